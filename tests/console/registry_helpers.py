"""Helpers for the console's registry tests (images pull/push, update checks, the worker-kill pull):
a slow loopback proxy in front of a registry, and an image with a big random layer pushed to it."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from dataclasses import dataclass

from tests.support.engine import EngineProcess
from tests.support.registry import LoopbackProxy


@dataclass
class SlowProxy(LoopbackProxy):
    """Forwards 127.0.0.1:port to a registry, sending what the registry answers at `rate` bytes/s per connection."""

    rate: int = 2_000_000
    backlog = 32

    def serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target))
        threading.Thread(target=self._pump, args=(client, upstream, 0), daemon=True).start()
        self._pump(upstream, client, self.rate)

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, rate: int) -> None:
        chunk = max(1024, rate // 20) if rate else 65536
        try:
            while True:
                data = src.recv(chunk)
                if not data:
                    break
                dst.sendall(data)
                if rate:
                    time.sleep(len(data) / rate)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def push_big_image(engine: EngineProcess, registry_host: str, name: str, megabytes: int = 8) -> str:
    """Build `registry_host/name:v1` (busybox plus a layer of random bytes), push it, remove it locally; the tag."""
    tag = f"{registry_host}/{name}:v1"
    dockerfile = f"FROM busybox\nRUN head -c {megabytes * 1_000_000} /dev/urandom > /blob-{secrets.token_hex(3)}\n"
    engine.docker("build", "-q", "-t", tag, "-", input=dockerfile, timeout=180, check=True)
    engine.docker("push", tag, timeout=180, check=True)
    engine.docker("rmi", tag, check=True)
    return tag
