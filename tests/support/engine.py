"""A real Berth engine for a test session: its own root, socket, cgroup parent and names.

`EngineProcess.start()` runs `python -m engine` with every host-visible name
prefixed uniquely, waits for the socket, and bootstraps busybox. With `netns`,
the engine (and its teardown and leak checks) run inside that named network
namespace (`nsenter --net`, not `ip netns exec`, which would remount /sys and so
hide /sys/fs/cgroup from the engine). `stop()` stops it;
`cleanup()` force-removes every container first and then checks that nothing it
made is left on the host (mounts, cgroups, conmon processes).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKER = shutil.which("docker", path="/usr/local/bin") or shutil.which("docker") or "docker"


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def out(self) -> str:
        return self.stdout.strip()


def _random_pool() -> str:
    """A /16 of its own for each engine, so engines running side by side never share addresses
    (one no route of this host is in yet: another engine's bridges would be)."""
    routes = subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True, text=True).stdout
    used = set(re.findall(r"\b10\.(\d+)\.", routes))
    for _ in range(100):
        second = str(secrets.randbelow(200) + 20)
        if second not in used:
            break
    return f"10.{second}.0.0/16"


@dataclass
class EngineProcess:
    tag: str = field(default_factory=lambda: "t" + secrets.token_hex(3))
    proc: subprocess.Popen[bytes] | None = None
    pool: str = field(default_factory=_random_pool)
    netns: str = ""  # a namespace made by `ip netns add`: the engine's "host" network

    def __post_init__(self) -> None:
        self.base = Path(f"/tmp/berth-{self.tag}")
        self.root = self.base / "root"
        self.exec_root = Path(f"/run/berth-{self.tag}")
        self.socket = self.base / "engine.sock"
        self.cgroup_parent = f"berth-{self.tag}"
        self.log_path = self.base / "engine.log"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DOCKER_HOST"] = self.host
        env.pop("DOCKER_CONTEXT", None)
        env["DOCKER_CONFIG"] = str(self.base / "docker-config")
        return env

    @property
    def nft_table(self) -> str:
        return f"berth_{self.tag}"

    @property
    def prefix(self) -> str:
        return self.tag[:8]

    def in_netns(self, argv: list[str]) -> list[str]:
        """`argv` run in the engine's network namespace (unchanged without one)."""
        return ["nsenter", f"--net=/run/netns/{self.netns}", "--", *argv] if self.netns else argv

    def flags(self) -> list[str]:
        return ["--root", str(self.root), "--exec-root", str(self.exec_root), "-H", self.host,
                "--cgroup-parent", self.cgroup_parent, "--bridge-prefix", self.prefix, "--nft-table", self.nft_table,
                "--pool", self.pool]

    def start(self, extra: list[str] | None = None) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        (self.base / "docker-config").mkdir(exist_ok=True)
        argv = self.in_netns([sys.executable, "-m", "engine", *self.flags(), "--log-level", "debug", *(extra or [])])
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the fd
            self.proc = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        self.wait_ready()

    def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"engine exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(str(self.socket))
                    s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
                    if s.recv(100).startswith(b"HTTP/1.1 200"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"engine did not start:\n{self.log_tail()}")

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except FileNotFoundError:
            return ""

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def bootstrap_busybox(self) -> None:
        subprocess.run([sys.executable, "-m", "engine", "bootstrap", "busybox", "--host", self.host],
                       cwd=REPO, check=True, capture_output=True)

    def docker(self, *args: str, input: str | bytes | None = None, timeout: float = 60, check: bool = False,
               docker: str = DOCKER) -> Result:
        text = not isinstance(input, bytes)
        proc = subprocess.run([docker, *args], env=self.env, input=input, capture_output=True, text=text, timeout=timeout)
        out = proc.stdout if text else proc.stdout.decode(errors="replace")
        err = proc.stderr if text else proc.stderr.decode(errors="replace")
        result = Result(proc.returncode, out, err)
        if check and proc.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed ({proc.returncode}): {err}\n{self.log_tail()}")
        return result

    def inspect(self, name: str) -> dict:
        return json.loads(self.docker("inspect", name, check=True).stdout)[0]

    def remove_all_containers(self) -> None:
        ids = self.docker("ps", "-aq").stdout.split()
        if ids:
            self.docker("rm", "-f", *ids, timeout=120)

    def cleanup(self) -> list[str]:
        """Stop the engine after removing its containers; return what it left behind."""
        if self.proc is not None and self.proc.poll() is None:
            self.remove_all_containers()
        self.stop()
        subprocess.run(self.in_netns([sys.executable, "-m", "engine", "teardown", *self.flags()]), cwd=REPO,
                       check=False, capture_output=True, timeout=60)
        leaks = leftovers(self)
        for point in _mounts_under(str(self.base)) + _mounts_under(str(self.exec_root)):
            subprocess.run(["umount", "-l", point], check=False)
        _remove_cgroups(self.cgroup_parent)
        shutil.rmtree(self.base, ignore_errors=True)
        shutil.rmtree(self.exec_root, ignore_errors=True)
        return leaks


def _mounts_under(prefix: str) -> list[str]:
    out = []
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            point = line.split(" ")[4]
            if point.startswith(prefix):
                out.append(point)
    return sorted(out, key=len, reverse=True)


def _cgroup_dirs(parent: str) -> list[str]:
    found = []
    root = "/sys/fs/cgroup"
    for entry in os.listdir(root):
        d = os.path.join(root, entry, parent)
        if os.path.isdir(d):
            found.append(d)
    d = os.path.join(root, parent)
    if os.path.isdir(d):
        found.append(d)
    return found


def _remove_cgroups(parent: str) -> None:
    for d in _cgroup_dirs(parent):
        for sub in sorted((os.path.join(d, x) for x in os.listdir(d) if os.path.isdir(os.path.join(d, x))), reverse=True):
            try:
                os.rmdir(sub)
            except OSError:
                pass
        try:
            os.rmdir(d)
        except OSError:
            pass


def _conmons_for(base: str) -> list[int]:
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"conmon") and any(base.encode() in a for a in argv):
            pids.append(int(pid))
    return pids


def leftovers(e: EngineProcess) -> list[str]:
    leaks = []
    for point in _mounts_under(str(e.base)) + _mounts_under(str(e.exec_root)):
        leaks.append(f"mount {point}")
    for d in _cgroup_dirs(e.cgroup_parent):
        subs = [x for x in os.listdir(d) if os.path.isdir(os.path.join(d, x))]
        if subs:
            leaks.append(f"cgroups {d}/{subs}")
    for pid in _conmons_for(str(e.base)):
        leaks.append(f"conmon pid {pid}")
    links = subprocess.run(e.in_netns(["ip", "-o", "link"]), capture_output=True, text=True).stdout
    for line in links.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name.startswith(e.prefix):
            leaks.append(f"link {name}")
    tables = subprocess.run(e.in_netns(["nft", "list", "tables"]), capture_output=True, text=True).stdout
    for family in ("ip", "ip6"):
        if f"table {family} {e.nft_table}\n" in tables + "\n":
            leaks.append(f"nftables table {family} {e.nft_table}")
    netns_dir = e.exec_root / "netns"
    if netns_dir.exists() and any(netns_dir.iterdir()):
        leaks.append(f"netns {list(netns_dir.iterdir())}")
    return leaks
