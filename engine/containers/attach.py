"""Attach: a client's hijacked connection joined to conmon's attach socket.

`docker run` attaches before it starts the container, so an attach to a
container that is not running waits (`AttachHub.pending`) until `start` has
conmon's socket ready and the process has not yet run: no output is lost.

Output from conmon arrives as SEQPACKET messages tagged 2 (stdout) or 3
(stderr). Without a TTY it is sent to the client in Docker's multiplexed frames
(8-byte header: stream, 0, 0, 0, big-endian length); with a TTY, raw. Client
input goes to the container's stdin; the client's half-close is *not* a detach
(docker half-closes when it has no stdin to send); the stream ends when conmon
closes the socket after the container's last output.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from engine.api.http import RawStream
from engine.containers.conmon import STDERR_PIPE, STDOUT_PIPE

log = logging.getLogger(__name__)

DETACH_DEFAULT = b"\x10\x11"  # ctrl-p ctrl-q
# conmon reads each SEQPACKET message of the attach socket into a 32 KiB buffer (minus one byte):
# a longer message would be cut, so stdin goes in messages no longer than that.
STDIN_MESSAGE = 32 * 1024 - 1


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


@dataclass(frozen=True)
class AttachOptions:
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool
    detach_keys: bytes = DETACH_DEFAULT
    raw: bool | None = None  # output unframed; None: as `tty` (exec start chooses it apart from the exec's TTY)

    @property
    def raw_output(self) -> bool:
        return self.tty if self.raw is None else self.raw


@dataclass
class PendingAttach:
    stream: RawStream
    opts: AttachOptions
    connected: asyncio.Future[socket.socket | None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


async def pipe(sock: socket.socket, stream: RawStream, opts: AttachOptions,
               on_detach: Callable[[], Awaitable[None]] | None = None, close_stream: bool = True) -> bool:
    """Copy between the attach socket and the client until the container's output ends; True if the client detached.

    With `close_stream` false the caller closes the client's side (exec does, once
    it knows the exit code, because the client asks for it as soon as output ends).
    """
    loop = asyncio.get_running_loop()

    async def output() -> None:
        while True:
            try:
                msg = await loop.sock_recv(sock, 65536)
            except (ConnectionError, OSError):
                return
            if not msg:
                return
            kind, data = msg[0], msg[1:]
            if (kind == STDOUT_PIPE and not opts.stdout) or (kind == STDERR_PIPE and not opts.stderr):
                continue
            if not data:
                continue
            try:
                if opts.raw_output:
                    await stream.write(data)
                else:
                    await stream.write(frame(1 if kind == STDOUT_PIPE else 2, data))
            except (ConnectionError, OSError, RuntimeError):
                return

    async def input_() -> None:
        keys = opts.detach_keys if opts.tty else b""
        matched = 0
        while True:
            data = await stream.read(65536)
            if not data:
                try:
                    sock.shutdown(socket.SHUT_WR)  # conmon closes the container's stdin (StdinOnce)
                except OSError:
                    pass
                return
            if keys:
                out = bytearray()
                for byte in data:
                    if byte == keys[matched]:
                        matched += 1
                        if matched == len(keys):
                            raise _Detached()
                        continue
                    if matched:
                        out += keys[:matched]
                        matched = 0
                    out.append(byte)
                data = bytes(out)
            try:
                for at in range(0, len(data), STDIN_MESSAGE):
                    await loop.sock_sendall(sock, data[at:at + STDIN_MESSAGE])
            except (ConnectionError, OSError):
                return

    out_task = asyncio.create_task(output())
    in_task = asyncio.create_task(input_()) if opts.stdin else None
    detached = False
    try:
        if in_task is None:
            await out_task
        else:
            done, _ = await asyncio.wait({out_task, in_task}, return_when=asyncio.FIRST_COMPLETED)
            if in_task in done and in_task.exception() is not None and isinstance(in_task.exception(), _Detached):
                detached = True
                out_task.cancel()
                if on_detach is not None:
                    await on_detach()
            else:
                await out_task
    finally:
        for t in (out_task, in_task):
            if t is not None and not t.done():
                t.cancel()
        sock.close()
        if close_stream:
            stream.close_write()
    return detached


class _Detached(Exception):
    """The client typed the detach key sequence."""


class AttachHub:
    """Clients waiting for a container to start, keyed by container ID."""

    def __init__(self) -> None:
        self.pending: dict[str, list[PendingAttach]] = {}

    def add(self, cid: str, item: PendingAttach) -> None:
        self.pending.setdefault(cid, []).append(item)

    def remove(self, cid: str, item: PendingAttach) -> None:
        items = self.pending.get(cid, [])
        if item in items:
            items.remove(item)
        if not items:
            self.pending.pop(cid, None)

    def connect_all(self, cid: str, connect: Callable[[], socket.socket]) -> None:
        """Called by start once conmon's socket exists and before the process runs."""
        for item in self.pending.pop(cid, []):
            if item.connected.done():
                continue
            try:
                item.connected.set_result(connect())
            except OSError as exc:
                log.warning("attach to %s failed: %s", cid[:12], exc)
                item.connected.set_result(None)

    def cancel_all(self, cid: str) -> None:
        """The container will not start (or was removed): release the waiting clients."""
        for item in self.pending.pop(cid, []):
            if not item.connected.done():
                item.connected.set_result(None)


def parse_detach_keys(spec: str | None) -> bytes:
    """Docker's --detach-keys: 'ctrl-p,ctrl-q', 'a,b', 'ctrl-@'."""
    if not spec:
        return DETACH_DEFAULT
    out = bytearray()
    for part in spec.split(","):
        part = part.strip()
        if part.startswith("ctrl-") and len(part) == 6:
            ch = part[5]
            if ch == "@":
                out.append(0)
            elif "a" <= ch <= "z":
                out.append(ord(ch) - ord("a") + 1)
            elif ch in "[\\]^_":
                out.append(ord(ch) - ord("[") + 27)
            else:
                from engine.errors import InvalidArgument

                raise InvalidArgument(f"Invalid escape keys ({spec}) provided")
        elif len(part) == 1:
            out.append(ord(part))
        else:
            from engine.errors import InvalidArgument

            raise InvalidArgument(f"Invalid escape keys ({spec}) provided")
    return bytes(out)
