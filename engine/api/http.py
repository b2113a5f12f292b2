"""A small HTTP/1.1 server on asyncio streams, shaped for the Docker Engine API.

Why not a framework: the Docker API needs three things frameworks hide or get
wrong — hijacking a connection after a `101 UPGRADED` (attach, exec start) while
tolerating the client's half-close, flushing response headers before the body
exists (wait, events, logs -f), and streaming multi-gigabyte request bodies
(load, import, build) without buffering them. This module does exactly that and
nothing more. Parsing is httptools (llhttp).

Contract for handlers: ``async def handler(req: Request) -> Reply``. A handler
may read the body once (``await req.body()`` / ``req.json()`` / ``req.stream()``)
and returns one of `Reply` (fixed body), `Streaming` (headers now, body from an
async iterator) or `Hijack` (raw socket after 101). If the client disconnects
while a non-hijacked reply is in progress the handler task is cancelled.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

if TYPE_CHECKING:
    from engine.api.server import _Connection

MAX_HEADER_BYTES = 64 * 1024
BODY_BUFFER_LIMIT = 4 * 1024 * 1024
MAX_JSON_BODY = 16 * 1024 * 1024

REASONS = {
    101: "UPGRADED", 200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 413: "Request Entity Too Large",
    500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable",
}


class BadRequest(Exception):
    """The bytes on the wire are not HTTP or not the JSON we need."""


class _Body:
    """The request body as it arrives, with back-pressure on the socket reader."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        self._done = False
        self._changed = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self.consumed = False

    def feed(self, data: bytes) -> None:
        self._chunks.append(bytes(data))
        self._size += len(data)
        if self._size >= BODY_BUFFER_LIMIT:
            self._space.clear()
        self._changed.set()

    def finish(self) -> None:
        self._done = True
        self._changed.set()

    @property
    def finished(self) -> bool:
        return self._done

    async def wait_for_space(self) -> None:
        await self._space.wait()

    async def chunks(self) -> AsyncIterator[bytes]:
        self.consumed = True
        while True:
            if self._chunks:
                chunk = self._chunks.pop(0)
                self._size -= len(chunk)
                if self._size < BODY_BUFFER_LIMIT:
                    self._space.set()
                yield chunk
                continue
            if self._done:
                return
            self._changed.clear()
            await self._changed.wait()


class Request:
    """One parsed request. `path` has the API version prefix removed by the router."""

    def __init__(self, method: str, target: str, headers: dict[str, str], conn: _Connection) -> None:
        self.method = method
        parts = urlsplit(target)
        self.raw_path = unquote(parts.path)
        self.path = self.raw_path
        self.query: dict[str, list[str]] = parse_qs(parts.query, keep_blank_values=True)
        self.headers = headers
        self.api_version: tuple[int, int] | None = None
        self.params: dict[str, str] = {}
        self.route = ""  # the matched route's template, set by the router
        self.request_id = ""  # set by the request observer (engine.api.observability)
        self.span: Any = None  # the request's tracing span, when tracing is on
        self._body = _Body()
        self._conn = conn
        self.upgrade = False
        self.keep_alive = True
        self.leftover = b""

    # -- query helpers -------------------------------------------------------
    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of a query parameter, as Go's `FormValue` takes it."""
        values = self.query.get(name)
        return values[0] if values else default

    def args(self, name: str) -> list[str]:
        return self.query.get(name, [])

    # -- body ----------------------------------------------------------------
    async def body(self, limit: int = MAX_JSON_BODY) -> bytes:
        out = bytearray()
        async for chunk in self.stream():
            out += chunk
            if len(out) > limit:
                raise BadRequest(f"request body larger than {limit} bytes")
        return bytes(out)

    async def json(self, default: Any = None) -> Any:
        raw = await self.body()
        if not raw.strip():
            return default
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"invalid JSON: {exc}") from None

    async def stream(self) -> AsyncIterator[bytes]:
        if self.upgrade:
            # httptools hands us the body of an upgrade request as raw bytes.
            length = int(self.headers.get("content-length") or 0)
            while len(self.leftover) < length:
                more = await self._conn.reader.read(65536)
                if not more:
                    break
                self.leftover += more
            body, self.leftover = self.leftover[:length], self.leftover[length:]
            self._body.consumed = True
            if body:
                yield body
            return
        async for chunk in self._body.chunks():
            yield chunk

    @property
    def peer_closed(self) -> asyncio.Event:
        return self._conn.peer_closed


@dataclass
class Reply:
    """A response with a fixed body."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, obj: Any, status: int = 200) -> Reply:
        return cls(status, json.dumps(obj, separators=(",", ":")).encode() + b"\n")

    @classmethod
    def empty(cls, status: int = 204) -> Reply:
        return cls(status, b"", None)

    @classmethod
    def error(cls, status: int, message: str) -> Reply:
        return cls.json({"message": message}, status)


@dataclass
class Streaming:
    """Headers sent at once, then a chunked body from `chunks` as it is produced."""

    chunks: AsyncIterator[bytes]
    status: int = 200
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RawStream:
    """A hijacked connection: raw bytes both ways, after `101 UPGRADED`."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    leftover: bytes

    async def read(self, n: int = 65536) -> bytes:
        if self.leftover:
            data, self.leftover = self.leftover[:n], self.leftover[n:]
            return data
        try:
            return await self.reader.read(n)
        except (ConnectionError, OSError):
            return b""

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def close_write(self) -> None:
        try:
            if self.writer.can_write_eof():
                self.writer.write_eof()
        except (OSError, RuntimeError):
            pass


@dataclass
class Hijack:
    """Switch protocols and give the raw connection to `run`."""

    run: Callable[[RawStream], Awaitable[None]]
    content_type: str = "application/vnd.docker.raw-stream"
    headers: dict[str, str] = field(default_factory=dict)
    upgraded: bool = True  # False: HTTP/1.0-style hijack with 200 (client sent no Upgrade)


ReplyLike = Reply | Streaming | Hijack
Handler = Callable[[Request], Coroutine[Any, Any, ReplyLike]]
