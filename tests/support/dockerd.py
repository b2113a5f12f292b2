"""The real Docker engine (Debian's docker.io) for side-by-side tests.

Reuses a dockerd that already answers on /var/run/docker.sock; otherwise starts a
private one with its own data root, no bridge and no iptables rules (these tests
need no container networking), and stops it and removes its files afterwards.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


def _answers(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(path)
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
            return s.recv(100).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


@dataclass
class Dockerd:
    socket: str
    proc: subprocess.Popen[bytes] | None = None
    base: str = ""

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for line in Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines()[::-1]:
            point = line.split(" ")[4]
            if self.base and point.startswith(self.base):
                subprocess.run(["umount", "-l", point], check=False)
        shutil.rmtree(self.base, ignore_errors=True)


def start_dockerd() -> Dockerd | None:
    if _answers("/var/run/docker.sock"):
        return Dockerd("/var/run/docker.sock")
    binary = shutil.which("dockerd")
    if binary is None:
        return None
    base = f"/tmp/dockerd-{secrets.token_hex(3)}"
    os.makedirs(base)
    sock = f"{base}/docker.sock"
    with open(f"{base}/dockerd.log", "wb") as log:  # the child keeps its own copy of the fd
        proc = subprocess.Popen(
            [binary, "--data-root", f"{base}/data", "--exec-root", f"{base}/exec", "-H", f"unix://{sock}",
             "--pidfile", f"{base}/dockerd.pid", "--bridge=none", "--iptables=false", "--ip-forward=false",
             "--ip-masq=false"],
            stdout=log, stderr=subprocess.STDOUT,
        )
    d = Dockerd(sock, proc, base)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if _answers(sock):
            return d
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    d.stop()
    return None
