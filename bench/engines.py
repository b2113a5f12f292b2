"""The two engines under test, both driven through the same docker CLI.

A `Side` is what a benchmark needs of an engine: a name, the environment that
points the docker CLI at it, the processes whose memory counts as the engine's,
and a record of the containers, networks, volumes and built images the
benchmark made there so that `cleanup()` can remove exactly those.

- `BerthSide` starts a fresh `python -m engine` with names of its own
  (`/tmp/berth-bench-XXXX`, `/run/berth-bench-XXXX`, cgroup parent
  `berth-bench-XXXX`, bridge prefix `bbXXXX`, nft table `berth_bbXXXX`, an
  address pool of its own) and on clean-up removes its containers, stops it and
  removes its links, rules, mounts, cgroups and directories (the test fixture's
  `EngineProcess` does the removing and reports what it could not).
- `DockerSide` reuses a dockerd answering on /var/run/docker.sock, or starts one;
  on clean-up it removes only the containers, networks, volumes and images this
  run made, and stops dockerd only if it started it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import memory
from tests.support.engine import DOCKER, REPO, EngineProcess

DOCKER_SOCKET = "/var/run/docker.sock"
DOCKER_PIDFILE = "/var/run/docker.pid"
DOCKER_CONTAINERD_PIDFILE = "/var/run/docker/containerd/containerd.pid"
IMAGE = "busybox"
OBJECT_KINDS = ("network", "volume")  # removed in this order, after the containers
FLEET_LABEL = "berth-bench"


class BenchError(Exception):
    """A docker command or an engine failed; the message says which and why."""


def ping(socket_path: str, timeout: float = 2.0) -> bool:
    """True when an engine answers `GET /_ping` with 200 on `socket_path`."""
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(timeout)
            s.connect(socket_path)
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: bench\r\n\r\n")
            return s.recv(100).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


class Side:
    """One engine as the benchmarks see it; subclasses say how it starts and stops."""

    name: str = ""

    def __init__(self, socket_path: str, config_dir: Path) -> None:
        self.socket_path = socket_path
        self.created: set[str] = set()  # made by this run and not yet removed
        self.made: set[str] = set()  # every container this run made here
        self.objects: dict[str, set[str]] = {kind: set() for kind in OBJECT_KINDS}  # by kind, not yet removed
        self.build_labels: set[str] = set()  # `key=value` carried by every image and build container this run made
        config_dir.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY")}
        self.env["DOCKER_HOST"] = f"unix://{socket_path}"
        self.env["DOCKER_CONFIG"] = str(config_dir)  # no user config, plugins or contexts on either side
        self.env["DOCKER_BUILDKIT"] = "0"  # `docker build` is the classic POST /build on both sides

    def argv(self, *args: str) -> list[str]:
        return [DOCKER, *args]

    def track(self, cid: str) -> None:
        """Record a container this run made, so that clean-up removes it."""
        self.created.add(cid)
        self.made.add(cid)

    def forget(self, cid: str) -> None:
        """The container `cid` was removed by a measured command."""
        self.created.discard(cid)

    def track_object(self, kind: str, name: str) -> None:
        """Record a network or volume (`kind` in OBJECT_KINDS) this run made, so that clean-up removes it."""
        self.objects[kind].add(name)

    def forget_object(self, kind: str, name: str) -> None:
        """The network or volume `name` was removed by a measured command."""
        self.objects[kind].discard(name)

    def track_build(self, label: str) -> None:
        """Record that images built from now on carry `label` (`key=value`), so that clean-up removes them."""
        self.build_labels.add(label)

    def docker(self, *args: str, timeout: float = 120) -> str:
        """Run an untimed docker command; return its stdout, raise BenchError if it fails or times out."""
        try:
            proc = subprocess.run(self.argv(*args), check=False, env=self.env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BenchError(f"{self.name}: docker {' '.join(args)} took more than {timeout:.0f} s") from None
        if proc.returncode != 0:
            raise BenchError(f"{self.name}: docker {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout.strip()

    def remove(self, ids: list[str]) -> None:
        """Force-remove containers this run made (untimed); `cleanup` checks that they are gone."""
        for start in range(0, len(ids), 50):
            chunk = ids[start:start + 50]
            try:
                subprocess.run(self.argv("rm", "-f", *chunk), check=False, env=self.env, capture_output=True,
                               timeout=300)
            except subprocess.TimeoutExpired:
                continue  # still in `created`; a later clean-up tries again and reports it
            self.created.difference_update(chunk)

    def remove_built(self, label: str) -> list[str]:
        """Remove every container and image carrying `label`, tags first, then dangling chains; return what stayed.

        Only images with the label are touched (a unique value per run), so
        nobody else's images on a shared Docker go.
        """
        flt = f"label={label}"
        containers = self.docker("ps", "-aq", "--no-trunc", "--filter", flt).split()  # a failed build's
        if containers:
            self.docker("rm", "-f", *containers)
        tags = [t for t in self.docker("images", "--filter", flt, "--format", "{{.Repository}}:{{.Tag}}").split()
                if "<none>" not in t]
        if tags:
            self.docker("rmi", *tags)
        self.docker("image", "prune", "-f", "--filter", flt)
        left = self.docker("images", "-aq", "--no-trunc", "--filter", flt).split()
        while left:  # what prune did not reach (an interrupted build's chain): rmi, pass after pass, while it helps
            subprocess.run(self.argv("rmi", *left), check=False, env=self.env, capture_output=True, timeout=120)
            before, left = left, self.docker("images", "-aq", "--no-trunc", "--filter", flt).split()
            if len(left) >= len(before):
                break
        return [f"{self.name} image {i}" for i in left]

    def remove_objects(self) -> list[str]:
        """Remove the networks, volumes and built images this run made (untimed); return what stayed."""
        leaks: list[str] = []
        for kind in OBJECT_KINDS:
            for name in sorted(self.objects[kind]):
                gone = subprocess.run(self.argv(kind, "rm", name), check=False, env=self.env, capture_output=True,
                                      timeout=120).returncode == 0
                if gone or subprocess.run(self.argv(kind, "inspect", name), check=False, env=self.env,
                                          capture_output=True, timeout=60).returncode != 0:
                    self.objects[kind].discard(name)
                else:
                    leaks.append(f"{self.name} {kind} {name}")
        for label in sorted(self.build_labels):
            try:
                stayed = self.remove_built(label)
            except BenchError as exc:
                stayed = [str(exc)]
            leaks += stayed
            if not stayed:
                self.build_labels.discard(label)
        return leaks

    def daemon_pids(self) -> dict[str, int]:
        """The engine's long-lived processes by role; their PSS is the engine's idle memory."""
        raise NotImplementedError

    def monitor_pids(self, ids: set[str]) -> list[int]:
        """The per-container monitor processes (conmon, containerd-shim) of the containers `ids`."""
        raise NotImplementedError

    def cleanup(self) -> list[str]:
        """Remove what this run made; return a line for each thing that could not be removed."""
        raise NotImplementedError


class _BenchEngineProcess(EngineProcess):
    """The test fixture's engine, with bridge and nftables names that fit a `bench-XXXX` tag.

    The fixture's own names (`tag[:8]`) would not be valid bridge prefixes here;
    overriding them keeps its `flags()`, teardown and leak checks consistent.
    """

    @property
    def prefix(self) -> str:
        return "bb" + self.tag.removeprefix("bench-")

    @property
    def nft_table(self) -> str:
        return f"berth_{self.prefix}"


class BerthSide(Side):
    """A fresh Berth engine, started for this run and removed with everything it made."""

    name = "berth"

    def __init__(self) -> None:
        self.process = _BenchEngineProcess(tag=f"bench-{secrets.token_hex(2)}")
        super().__init__(str(self.process.socket), self.process.base / "docker-config")

    def start(self) -> None:
        """Start the engine at log level info (debug logging would be measured too) and bootstrap busybox."""
        p = self.process
        p.base.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "engine", *p.flags(), "--log-level", "info"]
        with open(p.log_path, "ab") as log:
            p.proc = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        p.wait_ready(timeout=60)
        p.bootstrap_busybox()

    def daemon_pids(self) -> dict[str, int]:
        assert self.process.proc is not None
        pid = self.process.proc.pid
        roles = {"engine": pid}
        for child in memory.descendants(pid):
            roles[f"engine child {child}"] = child
        return roles

    def monitor_pids(self, ids: set[str]) -> list[int]:
        base = str(self.process.base).encode()
        return [pid for pid, argv in memory.processes() if argv[0].endswith(b"conmon") and any(base in a for a in argv)]

    def cleanup(self) -> list[str]:
        if self.process.proc is None:  # never started: only the CLI config directory exists
            shutil.rmtree(self.process.base, ignore_errors=True)
            return []
        leaks: list[str] = []
        if self.process.proc.poll() is None:  # the engine's root goes anyway, but every add has its remove
            self.remove(sorted(self.created))
            leaks += self.remove_objects()
        return leaks + self.process.cleanup()

    def log_tail(self) -> str:
        return self.process.log_tail()


class DockerSide(Side):
    """The host's Docker engine: reused if it answers, otherwise started here and stopped at the end."""

    name = "docker"

    def __init__(self, workdir: Path) -> None:
        super().__init__(DOCKER_SOCKET, workdir / "docker-config")
        self.workdir = workdir
        self.dockerd: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Make sure dockerd answers on its socket, starting it (log in the work dir) if it does not."""
        if ping(DOCKER_SOCKET):
            return
        if not shutil.which("dockerd"):
            raise BenchError("dockerd not found: install Debian's docker.io (make test-deps)")
        with open(self.workdir / "dockerd.log", "ab") as log:
            self.dockerd = subprocess.Popen(["dockerd"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while not ping(DOCKER_SOCKET):
            if self.dockerd.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"dockerd did not start; see {self.workdir / 'dockerd.log'}")
            time.sleep(0.2)

    def daemon_pids(self) -> dict[str, int]:
        roles: dict[str, int] = {}
        dockerd = _read_pidfile(DOCKER_PIDFILE)
        if dockerd:
            roles["dockerd"] = dockerd
        containerd = _read_pidfile(DOCKER_CONTAINERD_PIDFILE)
        if containerd:
            roles["containerd"] = containerd
        else:  # a system containerd (dockerd --containerd=...) instead of dockerd's own child
            for pid, argv in memory.processes():
                if os.path.basename(argv[0]) == b"containerd":
                    roles[f"containerd {pid}"] = pid
        return roles

    def monitor_pids(self, ids: set[str]) -> list[int]:
        found = []
        for pid, argv in memory.processes():
            if b"containerd-shim" not in os.path.basename(argv[0]):
                continue
            args = [a.decode(errors="replace") for a in argv]
            if "-id" in args and args.index("-id") + 1 < len(args) and args[args.index("-id") + 1] in ids:
                found.append(pid)
        return found

    def cleanup(self) -> list[str]:
        leaks = []
        self.remove(sorted(self.created))
        leaks += self.remove_objects()
        if self.made:
            try:
                left = self.made & set(self.docker("ps", "-aq", "--no-trunc").split())
            except BenchError as exc:
                left = set(self.created)
                leaks.append(f"could not list Docker's containers: {exc}")
            if left:
                leaks.append(f"docker containers {sorted(left)}")
        if self.dockerd is not None and self.dockerd.poll() is None:
            self.dockerd.terminate()
            try:
                self.dockerd.wait(60)
            except subprocess.TimeoutExpired:
                self.dockerd.kill()
                self.dockerd.wait()
                leaks.append("dockerd needed SIGKILL")
        return leaks


def _read_pidfile(path: str) -> int:
    try:
        pid = int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return 0
    return pid if os.path.exists(f"/proc/{pid}") else 0


def share_image(berth: BerthSide, docker: DockerSide) -> str:
    """Give Docker the very busybox image Berth bootstrapped (`save | load`); return its ID."""
    image_id = berth.docker("image", "inspect", "--format", "{{.Id}}", IMAGE)
    try:
        have = docker.docker("image", "inspect", "--format", "{{.Id}}", IMAGE)
    except BenchError:
        have = ""
    if have == image_id:
        return image_id
    save = subprocess.Popen(berth.argv("save", IMAGE), env=berth.env, stdout=subprocess.PIPE)
    load = subprocess.run(docker.argv("load"), check=False, env=docker.env, stdin=save.stdout, capture_output=True,
                          timeout=300)
    assert save.stdout is not None
    save.stdout.close()
    if save.wait(60) != 0 or load.returncode != 0:
        raise BenchError(f"could not load {IMAGE} into Docker: {load.stderr.decode(errors='replace').strip()}")
    have = docker.docker("image", "inspect", "--format", "{{.Id}}", IMAGE)
    if have != image_id:
        raise BenchError(f"Docker's {IMAGE} is {have}, Berth's is {image_id}")
    return image_id


def make_workdir() -> Path:
    """A private temporary directory for Docker's CLI config and a dockerd log; removed by the caller."""
    return Path(tempfile.mkdtemp(prefix="berth-bench-docker-"))
