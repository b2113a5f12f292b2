"""Engine log bytes → lines, and the bounded queue between the reading thread and the websocket (pure).

The engine's `/containers/{id}/logs` body is multiplexed for containers without
a TTY: frames of an 8-byte header (stream 1 = stdout, 2 = stderr; big-endian
length) followed by the payload. With a TTY it is raw bytes (stream 0 here).
Frames do not follow line boundaries, so `LogParser` keeps a partial line per
stream until its newline arrives (or it grows past MAX_LINE, which is cut).
With `timestamps=1` each line starts with an RFC3339Nano time and a space,
which `LogParser` splits off.

`LineQueue` is the only buffer between a websocket's reader thread and its
sender: bounded, it drops the OLDEST lines when the browser falls behind and
counts them, so the sender can tell the browser how many it missed.

`LogQuery` is which lines to read (streams, tail, since, follow), parsed from
the page's or the API's query parameters.
"""

from __future__ import annotations

import struct
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

HEADER = struct.Struct(">BxxxL")
MAX_LINE = 16 * 1024  # characters of one line that reach the browser; the rest is cut with a note

STDIN, STDOUT, STDERR = 0, 1, 2
TTY = 0  # stream number of lines from a TTY container (stdout and stderr are one)

Line = tuple[int, str, str]  # (stream, timestamp or "", text)


class FrameReader:
    """Multiplexed frames → (stream, payload) pairs; for a TTY the bytes pass as stream TTY."""

    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        if self.tty:
            return [(TTY, data)] if data else []
        buf = self._buf
        buf += data
        out: list[tuple[int, bytes]] = []
        pos = 0
        while len(buf) - pos >= HEADER.size:
            stream, length = HEADER.unpack_from(buf, pos)
            end = pos + HEADER.size + length
            if end > len(buf):
                break
            out.append((stream, bytes(buf[pos + HEADER.size:end])))
            pos = end
        del buf[:pos]
        return out


def without_timestamp(payload: bytes) -> bytes:
    """A frame's payload without its leading RFC3339 time, for the rest of a line cut into several frames."""
    head, sep, tail = payload.partition(b" ")
    return tail if sep and head[:4].isdigit() and b"T" in head and len(head) <= 40 else payload


class PlainLog:
    """Frames → plain text for a file: whole lines, in the order they were completed.

    An engine may cut a line into several frames (a pipe read ended mid-line) and
    put the other stream's frames between the pieces; joining payloads in frame
    order would splice a stderr line into a stdout one. Each stream's partial line
    waits until its newline arrives (with `timestamps`, the times of its later
    pieces are dropped: one line, one time). A TTY's bytes pass through unchanged.
    """

    def __init__(self, tty: bool, timestamps: bool = False) -> None:
        self._frames = FrameReader(tty)
        self._timestamps = timestamps
        self._partial: dict[int, bytes] = {}

    def feed(self, data: bytes) -> bytes:
        if self._frames.tty:
            return data
        out = bytearray()
        for stream, payload in self._frames.feed(data):
            before = self._partial.pop(stream, b"")
            if before and self._timestamps:
                payload = without_timestamp(payload)
            pending = before + payload
            cut = pending.rfind(b"\n") + 1
            out += pending[:cut]
            if cut < len(pending):
                self._partial[stream] = pending[cut:]
        return bytes(out)

    def flush(self) -> bytes:
        rest = b"".join(self._partial.values())
        self._partial.clear()
        return rest


@dataclass
class LogParser:
    """Frames → complete lines per stream, timestamps split off when `timestamps` is set."""

    tty: bool
    timestamps: bool

    def __post_init__(self) -> None:
        self._frames = FrameReader(self.tty)
        self._partial: dict[int, bytes] = {}

    def feed(self, data: bytes) -> list[Line]:
        lines: list[Line] = []
        for stream, payload in self._frames.feed(data):
            before = self._partial.pop(stream, b"")
            if before and self.timestamps and not self.tty:
                payload = without_timestamp(payload)
            pending = before + payload
            *complete, rest = pending.split(b"\n")
            for raw in complete:
                lines.append(self._line(stream, raw))
            if len(rest) > MAX_LINE * 4:  # a line without end: show what came so far
                lines.append(self._line(stream, rest))
                rest = b""
            if rest:
                self._partial[stream] = rest
        return lines

    def flush(self) -> list[Line]:
        """The partial lines left when the stream ended."""
        lines = [self._line(stream, rest) for stream, rest in self._partial.items() if rest]
        self._partial.clear()
        return lines

    def _line(self, stream: int, raw: bytes) -> Line:
        text = raw.decode("utf-8", "replace")
        if text.endswith("\r"):
            text = text[:-1]
        ts = ""
        if self.timestamps:
            head, sep, tail = text.partition(" ")
            if sep and head[:4].isdigit() and "T" in head:
                ts, text = head, tail
        if len(text) > MAX_LINE:
            text = f"{text[:MAX_LINE]} … [{len(text) - MAX_LINE} more characters cut; download the log for all]"
        return (stream, ts, text)


class LineQueue:
    """A thread-safe FIFO of at most `limit` lines; putting more drops the oldest and counts them."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lines: deque[Line] = deque()
        self._dropped = 0
        self._lock = threading.Lock()

    def put(self, lines: list[Line]) -> bool:
        """Append `lines`; True when the queue was empty before (the consumer may be asleep)."""
        with self._lock:
            was_empty = not self._lines
            self._lines.extend(lines)
            excess = len(self._lines) - self.limit
            if excess > 0:
                for _ in range(excess):
                    self._lines.popleft()
                self._dropped += excess
            return was_empty

    def take(self, count: int) -> tuple[list[Line], int]:
        """Up to `count` oldest lines, and how many were dropped before them (reset to 0)."""
        with self._lock:
            n = min(count, len(self._lines))
            lines = [self._lines.popleft() for _ in range(n)]
            dropped, self._dropped = self._dropped, 0
            return lines, dropped

    def __len__(self) -> int:
        return len(self._lines)


DEFAULT_TAIL = 1000  # lines a live view starts with: never the whole log of a busy container
MAX_TAIL = 5000  # the most a live view asks for (what it keeps); the download has everything
SINCE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _flag(params: Mapping[str, str], name: str, default: bool) -> bool:
    value = params.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}: write 1 or 0")


def parse_since(text: str, now: float) -> float:
    """Unix seconds from "1700000000.5", an ISO time ("2026-01-02T03:04:05Z") or a span ago ("15m", "2h", "1d")."""
    text = text.strip()
    if not text:
        return 0.0
    try:
        return float(text)
    except ValueError:
        pass
    unit = SINCE_UNITS.get(text[-1:].lower())
    if unit and text[:-1].replace(".", "", 1).isdigit():
        return now - float(text[:-1]) * unit
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("since: write a time (2026-01-02T03:04:05Z, unix seconds) or a span such as 15m, 2h, 1d") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


@dataclass(frozen=True)
class LogQuery:
    """Which log lines to read: the page's and the API's query parameters, checked.

    `tail` None means all lines; `since` 0 means from the start.
    """

    stdout: bool = True
    stderr: bool = True
    follow: bool = True
    timestamps: bool = False
    tail: int | None = DEFAULT_TAIL
    since: float = 0.0

    @classmethod
    def from_params(cls, params: Mapping[str, str], now: float, default_tail: int | None = DEFAULT_TAIL,
                    max_tail: int | None = MAX_TAIL, default_follow: bool = True) -> LogQuery:
        """Raises ValueError naming the parameter when a value is not valid."""
        tail_text = (params.get("tail") or "").strip().lower()
        if not tail_text:
            tail = default_tail
        elif tail_text == "all" and max_tail is None:
            tail = None
        else:
            if not tail_text.isdigit():
                raise ValueError("tail: write a number of lines" + ("" if max_tail else " or all"))
            tail = int(tail_text)
            if max_tail is not None and tail > max_tail:
                raise ValueError(f"tail: at most {max_tail} lines here (download the log for more)")
        query = cls(stdout=_flag(params, "stdout", True), stderr=_flag(params, "stderr", True),
                    follow=_flag(params, "follow", default_follow), timestamps=_flag(params, "timestamps", False),
                    tail=tail, since=parse_since(params.get("since") or "", now))
        if not (query.stdout or query.stderr):
            raise ValueError("stdout, stderr: choose at least one stream")
        return query

    def engine_params(self, timestamps: bool | None = None) -> dict[str, Any]:
        """The engine's query for these lines (`timestamps` overrides the query's own)."""
        params: dict[str, Any] = {"stdout": int(self.stdout), "stderr": int(self.stderr), "follow": int(self.follow),
                                  "timestamps": int(self.timestamps if timestamps is None else timestamps),
                                  "tail": "all" if self.tail is None else str(self.tail)}
        if self.since > 0:
            params["since"] = f"{self.since:.6f}"
        return params
