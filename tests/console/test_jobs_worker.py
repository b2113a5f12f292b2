"""A real Celery worker (`celery -A console worker`) against the test Redis and a file SQLite database,
killed with SIGKILL mid-job and started again: the job finishes (or, for kinds that must not run
twice, fails with the reason) — never stays "running"; a job queued behind it is not lost.

The worker and the helper that starts jobs are separate processes with their own settings
(BERTH_VAR_DIR, DATABASE_URL, REDIS_URL on a Redis database of their own, so no other test's messages
reach this worker); the test reads the job's row straight from the SQLite file.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.console.registry_helpers import SlowProxy, push_big_image
from tests.support.engine import REPO
from tests.support.registry import start_registry

CELERY = Path(sys.executable).with_name("celery")
FINISHED = ("succeeded", "failed", "cancelled")


@dataclass
class Stack:
    """Settings, database and workers of one test."""

    base: Path
    redis_url: str
    engine_host: str = "unix:///nonexistent/engine.sock"
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def db(self) -> Path:
        return self.base / "console.sqlite3"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY", "DEBUG")}
        env.update(DJANGO_SETTINGS_MODULE="console.settings", BERTH_VAR_DIR=str(self.base / "var"),
                   DATABASE_URL=f"sqlite:///{self.db}", REDIS_URL=self.redis_url, BERTH_ENGINE_HOST=self.engine_host,
                   LOG_LEVEL="WARNING")
        return env

    def python(self, code: str) -> str:
        """Run `code` with Django set up in a process of this stack; its output."""
        prelude = "import django; django.setup()\n"
        done = subprocess.run([sys.executable, "-c", prelude + code], cwd=REPO, env=self.env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def start_job(self, kind: str, title: str, params: dict, endpoint: str = "") -> int:
        find = f"Endpoint.objects.get(name={endpoint!r})" if endpoint else "None"
        return int(self.python(
            "from console.endpoints.models import Endpoint\nfrom console.jobs.framework import start_job\n"
            f"print(start_job({kind!r}, title={title!r}, params={params!r}, endpoint={find}).pk)"))

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        log = open(self.base / f"worker-{name}.log", "ab")
        proc = subprocess.Popen(
            [str(CELERY), "-A", "console", "worker", "-I", "tests.console.jobs_testkinds", "-c", "1", "-n", f"{name}@%h",
             "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
            cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.workers.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the worker and its pool processes at once, as a crash or an OOM kill would."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()

    def job(self, job_id: int) -> dict:
        with sqlite3.connect(self.db, timeout=20) as db:
            db.row_factory = sqlite3.Row
            row = db.execute("SELECT * FROM jobs_job WHERE id = ?", (job_id,)).fetchone()
        return dict(row)

    def wait_for(self, job_id: int, predicate, timeout: float = 60) -> dict:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if predicate(job):
                return job
            if time.monotonic() > deadline:
                logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.base.glob("worker-*.log")))
                raise AssertionError(f"job {job_id} stuck: {job}\n{logs}")
            time.sleep(0.1)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    if "REDIS_URL" not in os.environ:
        pytest.skip("redis-server is not installed")
    (tmp_path / "var").mkdir(mode=0o700)
    db_number = random.randint(1, 15)  # the queue of this test's worker alone
    s = Stack(tmp_path, f"{os.environ['REDIS_URL']}?db={db_number}")
    done = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=REPO, env=s.env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    try:
        yield s
    finally:
        s.stop_all()


def test_killing_the_worker_mid_job_then_starting_it_again_finishes_the_job(stack: Stack) -> None:
    long = stack.start_job("test.steps", "Twenty steps", {"steps": 20, "delay": 0.25})
    behind = stack.start_job("test.steps", "Queued behind it", {"steps": 2})
    first = stack.start_worker("first")
    stack.wait_for(long, lambda j: j["state"] == "running" and (j["progress"] or 0) >= 0.2)
    stack.kill(first)
    assert stack.job(long)["state"] == "running"  # nobody has noticed yet
    assert stack.job(behind)["state"] == "queued"
    stack.start_worker("second")
    done = stack.wait_for(long, lambda j: j["state"] in FINISHED)
    assert done["state"] == "succeeded", done["error"]
    assert done["runs"] == 2 and json.loads(done["result"]) == {"steps": 20, "run": 2}
    assert "its worker process" in done["log"] and "queued to run again" in done["log"]
    assert stack.wait_for(behind, lambda j: j["state"] in FINISHED)["state"] == "succeeded"


def test_a_job_that_must_not_run_twice_fails_with_the_reason(stack: Stack) -> None:
    job = stack.start_job("test.once", "Only once", {"steps": 20, "delay": 0.25})
    first = stack.start_worker("first")
    stack.wait_for(job, lambda j: j["state"] == "running" and (j["progress"] or 0) > 0)
    stack.kill(first)
    stack.start_worker("second")
    done = stack.wait_for(job, lambda j: j["state"] in FINISHED)
    assert done["state"] == "failed" and done["runs"] == 1
    assert "The worker running it stopped" in done["error"] and "not started twice" in done["error"]


@pytest.mark.skipif(shutil.which("docker-registry") is None, reason="Debian's docker-registry is not installed")
def test_killing_the_worker_mid_pull_then_starting_it_again_finishes_the_pull(tmp_path: Path, engine) -> None:  # type: ignore[no-untyped-def]
    registry = start_registry(tmp_path / "registry")
    proxy = SlowProxy(registry.port, rate=1_500_000).start()
    tag = push_big_image(engine, registry.host, f"console/kill-{secrets.token_hex(3)}", megabytes=12)
    slow_tag = tag.replace(registry.host, proxy.host)
    (tmp_path / "stack" / "var").mkdir(parents=True, mode=0o700)
    stack = Stack(tmp_path / "stack", f"{os.environ['REDIS_URL']}?db={random.randint(1, 15)}", engine_host=engine.host)
    try:
        stack.python("from django.core.management import call_command; call_command('migrate', verbosity=0)")
        job = stack.start_job("image.pull", f"Pull {slow_tag}", {"image": slow_tag}, endpoint="local")
        first = stack.start_worker("first")
        stack.wait_for(job, lambda j: j["state"] == "running" and (j["progress"] or 0) > 0.1, timeout=120)
        stack.kill(first)
        stack.start_worker("second")
        done = stack.wait_for(job, lambda j: j["state"] in FINISHED, timeout=180)
        assert done["state"] == "succeeded", done["error"] + done["log"]
        assert done["runs"] == 2 and "queued to run again" in done["log"]
        assert engine.docker("image", "inspect", slow_tag).returncode == 0
    finally:
        stack.stop_all()
        proxy.stop()
        registry.stop()
        engine.docker("rmi", "-f", slow_tag)
