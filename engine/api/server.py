"""The HTTP/1.1 server: connections, parsing (httptools), replies, hijacking.

See `engine.api.http` for the request and reply types and the contract handlers
follow. One connection serves its requests one at a time; a handler whose client
goes away (EOF) is cancelled, unless the connection was hijacked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httptools

from engine.api.http import (
    MAX_HEADER_BYTES,
    REASONS,
    BadRequest,
    Handler,
    Hijack,
    RawStream,
    Reply,
    Request,
    Streaming,
)
from engine.util.tasks import cancel_and_wait

log = logging.getLogger(__name__)


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
        # httptools forgets "Connection: close" once the message is complete, so ask now.
        req.keep_alive = self.parser.should_keep_alive()
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


RequestScope = Callable[[Request], contextlib.AbstractContextManager[object]]


def _no_scope(req: Request) -> contextlib.AbstractContextManager[object]:
    return contextlib.nullcontext()


class HttpServer:
    """Serves `dispatch` on any number of listeners (unix sockets, TCP, TLS).

    `request_scope` is entered around each request, from its headers to the last
    byte of its reply (or the end of a hijacked session); whatever context it
    sets is seen by the handler and by the task that streams the reply.
    """

    def __init__(self, dispatch: Handler, common_headers: Callable[[], dict[str, str]],
                 request_scope: RequestScope = _no_scope) -> None:
        self.dispatch = dispatch
        self.common_headers = common_headers
        self.request_scope = request_scope
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
        with self.request_scope(req):
            return await self._serve_in_scope(conn, req)

    async def _serve_in_scope(self, conn: _Connection, req: Request) -> bool:
        handler = asyncio.create_task(self.dispatch(req))
        if not req.upgrade:
            closed = asyncio.create_task(conn.peer_closed.wait())
            done, _ = await asyncio.wait({handler, closed}, return_when=asyncio.FIRST_COMPLETED)
            if handler not in done:
                # Give a handler that already finished its work a moment to return.
                await cancel_and_wait(handler, f"{req.method} {req.path} after the client left")
                return False
            closed.cancel()
        reply = await handler
        keep_alive = req.keep_alive and not req.upgrade
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
        if not keep_alive:
            headers["Connection"] = "close"
        conn.writer.write(self._head(reply.status, headers))
        await conn.writer.drain()
        chunks = reply.chunks
        pump = asyncio.create_task(self._pump(conn, chunks))
        closed = asyncio.create_task(conn.peer_closed.wait())
        try:
            done, _ = await asyncio.wait({pump, closed}, return_when=asyncio.FIRST_COMPLETED)
            if pump not in done:
                await cancel_and_wait(pump, "stream after the client left")
                return False
            pump.result()
        finally:
            closed.cancel()
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                try:
                    await aclose()
                except Exception:  # generator cleanup must not mask the reply
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
            except TimeoutError:
                log.debug("a listener was still closing after 2s; going on with shutdown")
            except Exception:  # shutdown goes on whatever one listener says
                log.debug("closing a listener failed", exc_info=True)
