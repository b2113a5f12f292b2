"""The console as `make up` runs it, for browser tests and benchmarks: Daphne on a loopback port.

`ConsoleServer(engine_host, redis_url).start()` prepares a throw-away
BERTH_VAR_DIR (SQLite database, secret key, collected static files), migrates it
— which registers the endpoint "local" at `engine_host` —, creates the first
administrator with a random password (`manage.py ensure_admin`, as scripts/up.sh
does), and serves `console.asgi:application` with Daphne on a listening socket
bound here to 127.0.0.1 on a free port and handed to Daphne as a file
descriptor, so no other process can take the port in between. `stop()` ends
Daphne (its own process group, started here) and removes the directory.

No Celery worker by default: a test whose pages start background jobs (console/jobs) starts one
with `start_worker()`, and the notification watcher with `start_watcher()`; each runs in its own
process group against this console's settings (same database, same Redis) and ends with
`stop_process()` (the test's fixture calls it; `stop()` ends any still running).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.engine import REPO

DAPHNE = Path(sys.executable).with_name("daphne")
CELERY = Path(sys.executable).with_name("celery")
ADMIN_USERNAME = "admin"  # what `manage.py ensure_admin` creates


class ConsoleServer:
    """One console process and its files; `url`, `username` and `password` once started."""

    def __init__(self, engine_host: str, redis_url: str) -> None:
        self.engine_host = engine_host
        self.redis_url = redis_url
        self.var = Path(tempfile.mkdtemp(prefix="berth-console-"))
        self.log_path = self.var / "daphne.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.username = ADMIN_USERNAME
        self.password = ""
        self.background: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """The environment of `manage.py` and Daphne: settings from here only, nothing from the caller's console."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("SECRET_KEY", "DATABASE_URL", "DEBUG", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS")}
        env.update(DJANGO_SETTINGS_MODULE="console.settings", BERTH_VAR_DIR=str(self.var),
                   BERTH_ENGINE_HOST=self.engine_host, REDIS_URL=self.redis_url, LOG_LEVEL="WARNING")
        return env

    def manage(self, *args: str) -> str:
        """Run `manage.py ARGS` against this console's files; its output. Raises with the output on failure."""
        proc = subprocess.run([sys.executable, "manage.py", *args], check=False, cwd=REPO, env=self.env,
                              capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
        return proc.stdout

    def start(self) -> ConsoleServer:
        """Prepare the files, start Daphne and wait until /login/ answers 200 (at most 30 s)."""
        self.var.chmod(0o700)
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("collectstatic", "--noinput", "-v", "0")
        self.manage("ensure_admin")
        self.password = (self.var / "admin-password").read_text().strip()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", 0))
            listener.listen(128)
            self.port = listener.getsockname()[1]
            fd = listener.fileno()
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [str(DAPHNE), "--fd", str(fd), "--access-log", os.devnull,
                     "console.asgi:application"],
                    cwd=REPO, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    pass_fds=(fd,), start_new_session=True)
        finally:
            listener.close()  # Daphne holds its own copy
        self._wait_ready(30)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"daphne exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/login/", timeout=5) as answer:
                    if answer.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the console did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except FileNotFoundError:
            return ""

    def start_background(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        """Run `argv` beside the console (its settings, its own process group, output in <var>/<name>.log)."""
        with open(self.var / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(argv, cwd=REPO, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.background.append(proc)
        return proc

    def start_worker(self, name: str = "e2e") -> subprocess.Popen[bytes]:
        """A Celery worker for this console's jobs (one process; no beat: tests do not wait for periodic tasks)."""
        return self.start_background(f"worker-{name}", [str(CELERY), "-A", "console", "worker", "-c", "1", "--pool", "solo",
                                                        "-n", f"{name}@%h", "--without-gossip", "--without-mingle",
                                                        "--loglevel", "INFO"])

    def start_watcher(self) -> subprocess.Popen[bytes]:
        """`manage.py watch_events`: follows the endpoints with notification rules and sends what they fire."""
        return self.start_background("watcher", [sys.executable, "manage.py", "watch_events"])

    def stop_process(self, proc: subprocess.Popen[bytes]) -> None:
        """End a process started by start_background (SIGTERM to its group, SIGKILL after 20 s)."""
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if proc in self.background:
            self.background.remove(proc)

    def background_log(self, name: str, n: int = 40) -> str:
        try:
            return "\n".join((self.var / f"{name}.log").read_text(errors="replace").splitlines()[-n:])
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        """End Daphne (SIGTERM, then SIGKILL after 10 s) and remove the console's files."""
        for proc in list(self.background):
            self.stop_process(proc)
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.var, ignore_errors=True)
