"""Container logs with Docker's json-file semantics, read from conmon's log file.

conmon writes one record per line (or per partial line) in the CRI format:

    2026-11-27T17:45:43.123456789+00:00 stdout F the line
    2026-11-27T17:45:43.123456789+00:00 stderr P a partial li

This module turns those records into what `docker logs` expects — stdout and
stderr kept apart in multiplexed frames (raw bytes for a TTY), `--timestamps`
as RFC3339 with nanoseconds, `--tail`, `--since/--until`, `--follow` — reading
the file in blocks, so memory use does not grow with the log's size.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.util.timefmt import rfc3339_fixed

BLOCK = 1 << 20
PARTIAL_LIMIT = 16 * 1024  # as Docker's log copier: a longer line is sent in pieces
_IN_MODIFY = 0x2
_IN_CLOSE_WRITE = 0x8
_IN_MOVE_SELF = 0x800
_IN_DELETE_SELF = 0x400
_IN_NONBLOCK = 0o4000
_IN_CLOEXEC = 0o2000000

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


@dataclass(frozen=True)
class LogOptions:
    stdout: bool = True
    stderr: bool = True
    follow: bool = False
    timestamps: bool = False
    since_ns: int = 0
    until_ns: int = 0
    tail: int | None = None  # None: everything


def parse_ts(ts: bytes) -> int:
    """CRI timestamp (any offset) → ns."""
    text = ts.decode("ascii", "replace")
    main, _, frac_tz = text.partition(".")
    frac = frac_tz[:9]
    tz = frac_tz[len(frac):]
    try:
        dt = datetime.fromisoformat(main + tz)
    except ValueError:
        return 0
    return int(dt.timestamp()) * 1_000_000_000 + int(frac.ljust(9, "0") or 0)


_HEADER = struct.Struct(">BxxxL")


def _frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


class FrameReader:
    """Splits Docker's multiplexed stream (8-byte headers) back into (stream, data) pieces."""

    def __init__(self) -> None:
        self.buffer = b""

    def feed(self, chunk: bytes) -> list[tuple[int, bytes]]:
        self.buffer += chunk
        out = []
        while len(self.buffer) >= 8:
            stream, size = struct.unpack(">BxxxL", self.buffer[:8])
            if len(self.buffer) < 8 + size:
                break
            out.append((stream, self.buffer[8:8 + size]))
            self.buffer = self.buffer[8 + size:]
        return out


class _Formatter:
    """Turns records into output bytes.

    conmon records what each read of the container's pipe returned, so one line may be
    split across records (tag P) with the other stream's lines in between. Like Docker's
    log copier, a stream's partial pieces are held until its line ends (or 16 KiB have
    gathered) and then sent as one message."""

    def __init__(self, opts: LogOptions, tty: bool) -> None:
        self.opts = opts
        self.tty = tty
        self.line_start = {b"stdout": True, b"stderr": True}
        self.pending: dict[bytes, tuple[bytes, list[bytes], int]] = {}  # stream → (first ts, pieces, size)
        self.out: list[bytes] = []

    def add(self, ts: bytes, stream: bytes, tag: bytes, content: bytes) -> None:
        if (stream == b"stdout" and not self.opts.stdout) or (stream == b"stderr" and not self.opts.stderr):
            return
        first_ts, pieces, size = self.pending.pop(stream, (ts, [], 0))
        pieces.append(content)
        size += len(content)
        if tag == b"F":
            self._emit(stream, first_ts, b"".join(pieces), True)
        elif size >= PARTIAL_LIMIT:
            self._emit(stream, first_ts, b"".join(pieces), False)
        else:
            self.pending[stream] = (first_ts, pieces, size)

    def _emit(self, stream: bytes, ts: bytes, data: bytes, complete: bool) -> None:
        """One message: a frame of its own without a TTY, as Docker sends each log message."""
        prefix = b""
        if self.opts.timestamps and self.line_start.get(stream, True):
            prefix = rfc3339_fixed(parse_ts(ts)).encode() + b" "
        self.line_start[stream] = complete
        out = self.out
        if not self.tty:
            out.append(_HEADER.pack(1 if stream == b"stdout" else 2, len(prefix) + len(data) + complete))
        if prefix:
            out.append(prefix)
        out.append(data)
        if complete:
            out.append(b"\n")

    def take(self) -> bytes:
        data = b"".join(self.out)
        self.out = []
        return data

    def finish(self) -> bytes:
        """Everything still held: the unterminated last piece of each stream."""
        for stream, (ts, pieces, _) in sorted(self.pending.items()):
            self._emit(stream, ts, b"".join(pieces), False)
        self.pending = {}
        return self.take()


def _records(block: bytes) -> list[tuple[bytes, bytes, bytes, bytes]]:
    out = []
    for line in block.split(b"\n"):
        if not line:
            continue
        parts = line.split(b" ", 3)
        if len(parts) == 3:
            parts.append(b"")
        if len(parts) != 4:
            continue
        out.append((parts[0], parts[1], parts[2], parts[3]))
    return out


def _ends_line(record: bytes) -> bool:
    parts = record.split(b" ", 3)
    return len(parts) >= 3 and parts[2] == b"F"


def tail_offset(path: str, lines: int) -> int:
    """The file offset where the last `lines` complete log lines start (read from the end)."""
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        return 0
    if lines <= 0:
        return size
    seen = 0
    pos = size
    carry = b""
    with open(path, "rb") as f:
        while pos > 0:
            step = min(BLOCK, pos)
            pos -= step
            f.seek(pos)
            data = f.read(step) + carry
            end = len(data)
            while True:
                nl = data.rfind(b"\n", 0, end - 1)
                if nl < 0:
                    break
                if _ends_line(data[nl + 1:end]):
                    seen += 1
                    if seen > lines:
                        return pos + end
                end = nl + 1
            carry = data[:end]
    if carry and _ends_line(carry):
        seen += 1
        if seen > lines:
            return len(carry)
    return 0


class _Inotify:
    def __init__(self, path: str) -> None:
        self.fd = _libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        _libc.inotify_add_watch(self.fd, path.encode(), _IN_MODIFY | _IN_CLOSE_WRITE | _IN_MOVE_SELF | _IN_DELETE_SELF)

    async def wait(self, timeout: float, also: asyncio.Future[Any] | None = None) -> None:
        """Until the file changes, `also` completes or `timeout` passes."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not fut.done():
                fut.set_result(None)

        loop.add_reader(self.fd, readable)
        waiters: list[asyncio.Future[Any]] = [fut] if also is None else [fut, asyncio.shield(also)]
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
            loop.remove_reader(self.fd)
        try:
            while os.read(self.fd, 65536):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        os.close(self.fd)


def _feed(fmt: _Formatter, opts: LogOptions, block: bytes) -> bool:
    """Add a block's records within since/until; True once a record is past `until`."""
    for ts, stream, tag, content in _records(block):
        if opts.since_ns or opts.until_ns:
            ns = parse_ts(ts)
            if opts.since_ns and ns < opts.since_ns:
                continue
            if opts.until_ns and ns > opts.until_ns:
                return True
        fmt.add(ts, stream, tag, content)
    return False


async def read_logs(
    path: str, opts: LogOptions, tty: bool, running: Callable[[], bool],
    exited: Callable[[], asyncio.Future[Any]] | None = None,
) -> AsyncIterator[bytes]:
    """Yield the log as the client should receive it; with follow, until the container stops.

    `exited` returns a future that completes when the current run ends, so a quiet container's
    exit ends the stream at once instead of at the next poll."""
    fmt = _Formatter(opts, tty)
    start = tail_offset(path, opts.tail) if opts.tail is not None else 0
    watcher: _Inotify | None = None
    if opts.follow and os.path.exists(path):
        watcher = _Inotify(path)
    try:
        try:
            f = open(path, "rb")  # noqa: SIM115, ASYNC230 - closed by `with f` below; reads are block-sized and yield
        except FileNotFoundError:
            return
        with f:
            f.seek(start)
            carry = b""
            while True:
                block = f.read(BLOCK)
                if block:
                    data = carry + block
                    cut = data.rfind(b"\n") + 1
                    carry = data[cut:]
                    past_until = _feed(fmt, opts, data[:cut])
                    out = fmt.take()
                    if out:
                        yield out
                    if past_until:
                        break
                    await asyncio.sleep(0)
                    continue
                if not opts.follow:
                    break
                if not running():
                    # one more read catches what conmon wrote while it was finishing
                    block = f.read(BLOCK)
                    if block:
                        f.seek(-len(block), os.SEEK_CUR)
                        continue
                    break
                ended = exited() if exited is not None else None
                if watcher is not None:
                    await watcher.wait(1.0, ended)
                elif ended is not None:
                    await asyncio.wait([asyncio.shield(ended)], timeout=0.2)
                else:
                    await asyncio.sleep(0.2)
        rest = fmt.finish()
        if rest:
            yield rest
    finally:
        if watcher is not None:
            watcher.close()
