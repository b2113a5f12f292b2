"""Helper containers: a short-lived busybox with one volume mounted, to read and write the volume through the Docker API.

The console may manage an engine on another host, so it never touches a
volume's host path: it starts a helper container with the volume mounted at
MOUNT and runs commands in it with exec (`ExecChannel`), which every engine
speaking the Docker Engine API offers.

Lifecycle: `helper_container()` creates and starts one (label HELPER_LABEL, no
network, read-only mount unless asked), yields its ID and force-removes it when
the block ends, however it ends. Its command is `sleep HELPER_TTL`, so a helper
whose console died mid-way still ends by itself; `sweep_helpers()` (run before
each new helper) removes those an earlier run left behind. The notification
watcher and the events page recognise helpers by their label.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import socket
import struct
import time
from collections.abc import Iterator
from typing import Self

import docker
import docker.errors
import requests

from console.endpoints.client import EngineError

log = logging.getLogger(__name__)

HELPER_IMAGE = "busybox:latest"
HELPER_LABEL = "berth.console.helper"
MOUNT = "/volume"
HELPER_TTL = 3600  # seconds a helper may live, even when nobody removes it
STDERR_KEPT = 16_384  # bytes of a command's stderr kept for its error message


class VolumeAccessError(EngineError):
    """Reading or writing a volume's files failed: a missing path, a link out of the volume, a bad archive.

    An EngineError with an HTTP-like status (400, 404, 409, 502), so the REST API answers it in its one error shape.
    """


def _helper_config(api: docker.APIClient, volume: str, writable: bool, purpose: str) -> dict[str, object]:
    """What `create_container` needs for a helper mounting `volume` (pure apart from building the host config)."""
    host_config = api.create_host_config(binds={volume: {"bind": MOUNT, "mode": "rw" if writable else "ro"}},
                                         network_mode="none")
    return {"image": HELPER_IMAGE, "command": ["sleep", str(HELPER_TTL)], "host_config": host_config,
            "labels": {HELPER_LABEL: purpose, f"{HELPER_LABEL}.volume": volume},
            "name": f"berth-helper-{purpose}-{secrets.token_hex(4)}"}


def _created(summary: dict[str, object]) -> float:
    created = summary.get("Created") or 0
    return float(created) if isinstance(created, (int, float)) else 0.0


def sweep_helpers(api: docker.APIClient) -> int:
    """Remove helpers older than HELPER_TTL (left by a console that died); how many went. Never raises."""
    try:
        old = [s for s in api.containers(all=True, filters={"label": HELPER_LABEL})
               if time.time() - _created(s) > HELPER_TTL]
        for s in old:
            api.remove_container(s["Id"], force=True)
        return len(old)
    except docker.errors.APIError as exc:
        log.info("could not sweep old helper containers: %s", exc)
        return 0


@contextlib.contextmanager
def helper_container(api: docker.APIClient, volume: str, writable: bool = False, purpose: str = "browse") -> Iterator[str]:
    """A running helper with `volume` at MOUNT (read-only unless `writable`); removed when the block ends.

    Raises VolumeAccessError (404) when the volume does not exist, or when the
    helper image is missing (with what to do about it); other refusals as
    docker.errors.APIError (the caller's endpoint_client turns them into EngineError).
    """
    try:
        api.inspect_volume(volume)
    except docker.errors.NotFound:
        raise VolumeAccessError(f"no such volume: {volume}", 404) from None
    sweep_helpers(api)
    try:
        cid = api.create_container(**_helper_config(api, volume, writable, purpose))["Id"]
    except docker.errors.ImageNotFound:
        raise VolumeAccessError(f"this needs the image {HELPER_IMAGE} on the endpoint (it runs a short-lived helper "
                                f"container with the volume mounted): pull it, then try again", 409) from None
    try:
        api.start(cid)
        yield cid
    finally:
        with contextlib.suppress(docker.errors.APIError, requests.RequestException):  # gone with its engine
            api.remove_container(cid, force=True)


class ExecChannel:
    """One command run in a container over a hijacked connection: Docker's multiplexed frames out, stdin in.

    Read stdout with `line()` (one line) or `chunks()` (the rest, as it comes);
    stderr is kept (its first STDERR_KEPT bytes) for error messages. `send()`
    writes to the command's stdin. `exit_code()` waits for the command to end.
    Always `close()` it (or use it as a context manager).
    """

    def __init__(self, api: docker.APIClient, cid: str, argv: list[str], stdin: bool = False, timeout: float = 120) -> None:
        self.api = api
        self.exec_id = api.exec_create(cid, argv, stdin=stdin, stdout=True, stderr=True)["Id"]
        self._response_socket = api.exec_start(self.exec_id, socket=True)  # kept: TLS sockets close when it is collected
        self.sock: socket.socket = getattr(self._response_socket, "_sock", self._response_socket)
        self.sock.settimeout(timeout)
        self.pending = bytearray()  # stdout received but not yet handed out
        self.stderr = bytearray()
        self.ended = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def _read_exactly(self, n: int) -> bytes | None:
        data = bytearray()
        while len(data) < n:
            try:
                got = self.sock.recv(min(n - len(data), 65536))
            except OSError as exc:
                raise EngineError(f"the connection to the engine broke: {exc}") from exc
            if not got:
                return None
            data += got
        return bytes(data)

    def _next_stdout(self) -> bytes | None:
        """The next piece of stdout (stderr frames are kept on the way); None at the end of the stream."""
        while not self.ended:
            header = self._read_exactly(8)
            if header is None:
                self.ended = True
                break
            kind, size = struct.unpack(">BxxxL", header)
            data = self._read_exactly(size) if size else b""
            if data is None:
                self.ended = True
                break
            if kind == 2:
                self.stderr += data[: max(0, STDERR_KEPT - len(self.stderr))]
            elif data:
                return data
        return None

    def line(self) -> bytes | None:
        """The next stdout line without its newline; None when the output ended first."""
        while b"\n" not in self.pending:
            data = self._next_stdout()
            if data is None:
                return None
            self.pending += data
        line, _, rest = bytes(self.pending).partition(b"\n")
        self.pending = bytearray(rest)
        return line

    def chunks(self) -> Iterator[bytes]:
        """The rest of stdout, piece by piece as it arrives."""
        if self.pending:
            yield bytes(self.pending)
            self.pending.clear()
        while (data := self._next_stdout()) is not None:
            yield data

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise EngineError(f"the connection to the engine broke: {exc}") from exc

    def error_text(self) -> str:
        return self.stderr.decode("utf-8", "replace").strip()

    def exit_code(self, wait: float = 10) -> int | None:
        """The command's exit code, once the engine says it has ended (None if it still runs after `wait` s)."""
        deadline = time.monotonic() + wait
        while True:
            info = self.api.exec_inspect(self.exec_id)
            if not info.get("Running"):
                return info.get("ExitCode")
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)

