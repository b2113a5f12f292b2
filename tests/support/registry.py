"""Debian's docker-registry on 127.0.0.1 for tests: plain, with htpasswd auth, or behind TLS.

Also `FlakyProxy`: a loopback TCP proxy in front of a registry that cuts blob
downloads part-way, for testing resumed and failed pulls.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Registry:
    base: Path
    port: int
    proc: subprocess.Popen[bytes]
    tls: bool = False

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def storage(self) -> Path:
        return self.base / "data"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.base, ignore_errors=True)


def start_registry(base: Path, htpasswd: tuple[str, str] | None = None, tls: tuple[Path, Path] | None = None) -> Registry:
    if shutil.which("docker-registry") is None:
        raise RuntimeError("docker-registry is not installed")
    base.mkdir(parents=True, exist_ok=True)
    port = free_port()
    lines = ["version: 0.1", "storage:", "  filesystem:", f"    rootdirectory: {base / 'data'}", "  delete:",
             "    enabled: true", "http:", f"  addr: 127.0.0.1:{port}"]
    if tls:
        lines += ["  tls:", f"    certificate: {tls[0]}", f"    key: {tls[1]}"]
    lines += ["log:", "  level: error"]
    if htpasswd:
        users = base / "htpasswd"
        subprocess.run(["htpasswd", "-Bbc", str(users), htpasswd[0], htpasswd[1]], check=True, capture_output=True)
        lines += ["auth:", "  htpasswd:", "    realm: berth-test", f"    path: {users}"]
    (base / "config.yml").write_text("\n".join(lines) + "\n")
    with open(base / "registry.log", "wb") as log:  # the child keeps its own copy of the fd
        proc = subprocess.Popen(["docker-registry", "serve", str(base / "config.yml")], stdout=log, stderr=subprocess.STDOUT)
    reg = Registry(base, port, proc, bool(tls))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return reg
        except OSError:
            time.sleep(0.1)
    reg.stop()
    raise RuntimeError("docker-registry did not start")


@dataclass
class LoopbackProxy:
    """A TCP proxy on 127.0.0.1:port in front of 127.0.0.1:target; each accepted connection goes to
    `serve(client)` in a thread of its own (subclasses say how bytes move)."""

    target: int
    port: int = field(default_factory=free_port)
    backlog = 16

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Self:
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", self.port))
        self.server.listen(self.backlog)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(client,), daemon=True).start()

    def serve(self, client: socket.socket) -> None:
        raise NotImplementedError


@dataclass
class FlakyProxy(LoopbackProxy):
    """Forwards 127.0.0.1:port to a registry; while `cut_after` is set, blob responses stop after that many bytes."""

    cut_after: int | None = None
    cuts: int = 0

    def serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target))
        state = {"blob": False, "sent": 0}

        def pump_up() -> None:
            try:
                while True:
                    data = client.recv(65536)
                    if not data:
                        break
                    if data.startswith(b"GET") and b"/blobs/sha256:" in data.split(b"\r\n", 1)[0]:
                        state["blob"], state["sent"] = True, 0
                    upstream.sendall(data)
            except OSError:
                pass

        threading.Thread(target=pump_up, daemon=True).start()
        try:
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                limit = self.cut_after
                if state["blob"] and limit is not None and state["sent"] + len(data) > limit:
                    client.sendall(data[: max(0, limit - state["sent"])])
                    self.cuts += 1
                    break
                client.sendall(data)
                state["sent"] += len(data)
        except OSError:
            pass
        finally:
            for sock in (client, upstream):
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # wakes the other thread blocked in recv
                except OSError:
                    pass
                sock.close()


def http_json(url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None) -> bytes:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as resp:  # loopback registry only
        return resp.read()
