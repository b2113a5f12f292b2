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
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httptools

log = logging.getLogger(__name__)

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
        self._body = _Body()
        self._conn = conn
        self.upgrade = False
        self.leftover = b""

    # -- query helpers -------------------------------------------------------
    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

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
Handler = Callable[[Request], Awaitable[ReplyLike]]


class _Connection:
    """Parser callbacks and the read loop for one client connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = httptools.HttpRequestParser(self)
        self.ready: asyncio.Queue[Request | None] = asyncio.Queue()
        self.peer_closed = asyncio.Event()
        self._url = b""
        self._headers: dict[str, str] = {}
        self._header_bytes = 0
        self._current: Request | None = None
        self.hijacked = False

    # httptools callbacks --------------------------------------------------
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._header_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._header_bytes += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value)
        if self._header_bytes > MAX_HEADER_BYTES:
            raise BadRequest("request headers too large")
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        if key in self._headers:
            self._headers[key] += ", " + text
        else:
            self._headers[key] = text

    def on_headers_complete(self) -> None:
        method = self.parser.get_method().decode()
        req = Request(method, self._url.decode("latin-1"), self._headers, self)
        self._current = req
        self.ready.put_nowait(req)

    def on_body(self, body: bytes) -> None:
        if self._current is not None:
            self._current._body.feed(body)

    def on_message_complete(self) -> None:
        if self._current is not None:
            self._current._body.finish()

    # read loop ---------------------------------------------------------------
    async def read_loop(self) -> None:
        """Feed the parser until EOF, an upgrade, or a parse error."""
        try:
            while True:
                if self._current is not None and not self._current._body.finished:
                    await self._current._body.wait_for_space()
                try:
                    data = await self.reader.read(65536)
                except (ConnectionError, OSError):
                    data = b""
                if not data:
                    if self._current is not None and not self._current._body.finished:
                        self._current._body.finish()
                    break
                try:
                    self.parser.feed_data(data)
                except httptools.HttpParserUpgrade as up:
                    req = self._current
                    if req is not None:
                        req.upgrade = True
                        req.leftover = data[up.args[0]:]
                        req._body.finish()
                    self.hijacked = True
                    return
                except (httptools.HttpParserError, BadRequest) as exc:
                    await self.ready.put(None)
                    self._send_bad_request(str(exc))
                    break
        finally:
            if not self.hijacked:
                self.peer_closed.set()
                await self.ready.put(None)

    def _send_bad_request(self, message: str) -> None:
        body = json.dumps({"message": f"malformed HTTP request: {message}"}).encode()
        head = (
            f"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        try:
            self.writer.write(head + body)
        except (ConnectionError, OSError, RuntimeError):
            pass


class HttpServer:
    """Serves `dispatch` on any number of listeners (unix sockets, TCP, TLS)."""

    def __init__(self, dispatch: Handler, common_headers: Callable[[], dict[str, str]]) -> None:
        self.dispatch = dispatch
        self.common_headers = common_headers
        self.servers: list[asyncio.AbstractServer] = []
        self.connections: set[asyncio.Task[None]] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.connections.add(task)
        conn = _Connection(reader, writer)
        reading = asyncio.create_task(conn.read_loop())
        try:
            while True:
                req = await conn.ready.get()
                if req is None:
                    break
                keep_open = await self._serve_one(conn, req)
                if not keep_open:
                    break
        except (ConnectionError, OSError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            if not reading.done():
                reading.cancel()
            try:
                writer.close()
            except (OSError, RuntimeError):
                pass
            self.connections.discard(task)

    async def _serve_one(self, conn: _Connection, req: Request) -> bool:
        """Run one handler and write its reply. Returns whether to keep the connection."""
        handler = asyncio.create_task(self.dispatch(req))
        if not req.upgrade:
            closed = asyncio.create_task(conn.peer_closed.wait())
            done, _ = await asyncio.wait({handler, closed}, return_when=asyncio.FIRST_COMPLETED)
            if handler not in done:
                # Give a handler that already finished its work a moment to return.
                handler.cancel()
                try:
                    await handler
                except (asyncio.CancelledError, Exception):
                    pass
                return False
            closed.cancel()
        reply = await handler
        keep_alive = conn.parser.should_keep_alive() and not req.upgrade
        if isinstance(reply, Reply):
            await self._write_reply(conn, req, reply, keep_alive)
        elif isinstance(reply, Streaming):
            return await self._write_streaming(conn, req, reply, keep_alive)
        else:
            await self._hijack(conn, req, reply)
            return False
        if not req._body.consumed and not req._body.finished:
            return False  # unread body still on the wire: do not try to parse it as a request
        return keep_alive

    def _head(self, status: int, headers: dict[str, str], reason: str | None = None) -> bytes:
        lines = [f"HTTP/1.1 {status} {reason or REASONS.get(status, 'OK')}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def _write_reply(self, conn: _Connection, req: Request, reply: Reply, keep_alive: bool) -> None:
        headers = self.common_headers()
        if reply.content_type:
            headers["Content-Type"] = reply.content_type
        headers.update(reply.headers)
        if reply.status not in (204, 304):
            headers["Content-Length"] = str(len(reply.body))
        if not keep_alive:
            headers["Connection"] = "close"
        body = b"" if req.method == "HEAD" or reply.status in (204, 304) else reply.body
        conn.writer.write(self._head(reply.status, headers) + body)
        await conn.writer.drain()

    async def _write_streaming(self, conn: _Connection, req: Request, reply: Streaming, keep_alive: bool) -> bool:
        headers = self.common_headers()
        if reply.content_type:
            headers["Content-Type"] = reply.content_type
        headers.update(reply.headers)
        headers["Transfer-Encoding"] = "chunked"
        conn.writer.write(self._head(reply.status, headers))
        await conn.writer.drain()
        chunks = reply.chunks
        pump = asyncio.create_task(self._pump(conn, chunks))
        closed = asyncio.create_task(conn.peer_closed.wait())
        try:
            done, _ = await asyncio.wait({pump, closed}, return_when=asyncio.FIRST_COMPLETED)
            if pump not in done:
                pump.cancel()
                try:
                    await pump
                except (asyncio.CancelledError, Exception):
                    pass
                return False
            pump.result()
        finally:
            closed.cancel()
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                try:
                    await aclose()
                except Exception:  # noqa: BLE001 - generator cleanup must not mask the reply
                    log.debug("stream cleanup failed", exc_info=True)
        conn.writer.write(b"0\r\n\r\n")
        await conn.writer.drain()
        return keep_alive

    @staticmethod
    async def _pump(conn: _Connection, chunks: AsyncIterator[bytes]) -> None:
        async for chunk in chunks:
            if chunk:
                conn.writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await conn.writer.drain()

    async def _hijack(self, conn: _Connection, req: Request, reply: Hijack) -> None:
        headers = {"Content-Type": reply.content_type}
        if req.upgrade:
            headers.update({"Connection": "Upgrade", "Upgrade": req.headers.get("upgrade", "tcp")})
            headers.update(reply.headers)
            conn.writer.write(self._head(101, headers, "UPGRADED"))
        else:
            headers.update(self.common_headers())
            headers.update(reply.headers)
            conn.writer.write(self._head(200, headers))
        await conn.writer.drain()
        leftover = req.leftover
        if not req.upgrade:
            # Without an upgrade the parser still owns the socket; stop it first.
            conn.hijacked = True
        await reply.run(RawStream(conn.reader, conn.writer, leftover))

    async def listen_unix(self, path: str, mode: int = 0o660) -> None:
        import os

        server = await asyncio.start_unix_server(self.handle, path=path, limit=MAX_HEADER_BYTES)
        os.chmod(path, mode)
        self.servers.append(server)

    async def listen_tcp(self, host: str, port: int, ssl: Any = None) -> None:
        server = await asyncio.start_server(self.handle, host=host, port=port, ssl=ssl, limit=MAX_HEADER_BYTES)
        self.servers.append(server)

    async def close(self) -> None:
        for server in self.servers:
            server.close()
        for task in list(self.connections):
            task.cancel()
        for server in self.servers:
            try:
                await asyncio.wait_for(server.wait_closed(), 2)
            except (asyncio.TimeoutError, Exception):
                pass
