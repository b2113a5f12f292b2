"""The embedded DNS server: one UDP and one TCP socket at 127.0.0.11:53 inside each
container on a user-defined network, all served by the engine's event loop.

Because each container has its own sockets, the server knows who asks: names
(container names, aliases, short IDs) resolve to addresses on the networks the
asking container shares with them. Other names are forwarded to the container's
--dns servers or the host's resolvers, except for containers that are only on
internal networks, which get REFUSED.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from engine.network import dnsmsg
from engine.network.netlink import DnsSockets

log = logging.getLogger(__name__)
FORWARD_TIMEOUT = 3.0


@dataclass(frozen=True)
class Answer:
    addresses: list[str] = field(default_factory=list)  # A records
    addresses6: list[str] = field(default_factory=list)  # AAAA records (endpoints on IPv6-enabled networks)
    ptr: str | None = None
    known: bool = False  # a name or address of ours, even if it has no A record
    forward_to: list[str] = field(default_factory=list)  # empty: nowhere (REFUSED)


Resolver = Callable[[str, str, int], Answer]  # (container id, name, qtype) → answer


class DnsServer:
    def __init__(self, resolve: Resolver) -> None:
        self.resolve = resolve
        self.sockets: dict[str, DnsSockets] = {}
        self.tasks: dict[str, list[asyncio.Task[None]]] = {}
        # Queries being answered: asyncio keeps only weak references to tasks, so an
        # unreferenced one could be collected before it replies.
        self.answering: set[asyncio.Task[None]] = set()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.answering.add(task)
        task.add_done_callback(self.answering.discard)

    def serve(self, container_id: str, socks: DnsSockets) -> None:
        self.stop(container_id)
        self.sockets[container_id] = socks
        loop = asyncio.get_running_loop()
        loop.add_reader(socks.udp.fileno(), self._on_udp, container_id, socks.udp)
        self.tasks[container_id] = [loop.create_task(self._accept_tcp(container_id, socks.tcp))]

    def stop(self, container_id: str) -> None:
        socks = self.sockets.pop(container_id, None)
        for t in self.tasks.pop(container_id, []):
            t.cancel()
        if socks is not None:
            try:
                asyncio.get_running_loop().remove_reader(socks.udp.fileno())
            except (RuntimeError, ValueError):
                pass
            socks.udp.close()
            socks.tcp.close()

    def close(self) -> None:
        for cid in list(self.sockets):
            self.stop(cid)

    # -- UDP -------------------------------------------------------------------------------
    def _on_udp(self, container_id: str, sock: socket.socket) -> None:
        while True:
            try:
                data, addr = sock.recvfrom(4096)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            self._spawn(self._answer_udp(container_id, sock, data, addr))

    async def _answer_udp(self, container_id: str, sock: socket.socket, data: bytes, addr: tuple[str, int]) -> None:
        out = await self.answer(container_id, data, tcp=False)
        if out:
            try:
                sock.sendto(out, addr)
            except OSError:
                pass

    # -- TCP -------------------------------------------------------------------------------
    async def _accept_tcp(self, container_id: str, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(listener)
            except (OSError, asyncio.CancelledError):
                return
            self._spawn(self._serve_tcp(container_id, conn))

    async def _serve_tcp(self, container_id: str, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        conn.setblocking(False)
        try:
            while True:
                head = await asyncio.wait_for(_recv_exact(loop, conn, 2), 10)
                if not head:
                    return
                (length,) = struct.unpack(">H", head)
                data = await asyncio.wait_for(_recv_exact(loop, conn, length), 10)
                if len(data) < length:
                    return
                out = await self.answer(container_id, data, tcp=True)
                if not out:
                    return
                await loop.sock_sendall(conn, struct.pack(">H", len(out)) + out)
        except (TimeoutError, OSError):
            return
        finally:
            conn.close()

    # -- answering -------------------------------------------------------------------------
    async def answer(self, container_id: str, data: bytes, tcp: bool) -> bytes | None:
        try:
            q = dnsmsg.parse_query(data)
        except dnsmsg.DnsFormatError:
            return None
        if q.qclass != dnsmsg.CLASS_IN:
            return dnsmsg.reply(q, dnsmsg.REFUSED)
        result = self.resolve(container_id, q.name, q.qtype)
        if result.known:
            if q.qtype == dnsmsg.TYPE_A:
                return dnsmsg.reply(q, a_records=result.addresses)
            if q.qtype == dnsmsg.TYPE_AAAA:
                return dnsmsg.reply(q, aaaa_records=result.addresses6)
            if q.qtype == dnsmsg.TYPE_PTR and result.ptr:
                return dnsmsg.reply(q, ptr=result.ptr)
            return dnsmsg.reply(q)  # the name exists, but not with this record type
        if not result.forward_to:
            return dnsmsg.reply(q, dnsmsg.REFUSED, authoritative=False)
        for server in result.forward_to:
            reply = await _forward(server, data, tcp)
            if reply is not None:
                return reply
        return dnsmsg.reply(q, dnsmsg.SERVFAIL, authoritative=False)


async def _recv_exact(loop: asyncio.AbstractEventLoop, conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = await loop.sock_recv(conn, n - len(buf))
        if not chunk:
            return buf
        buf += chunk
    return buf


async def _forward(server: str, data: bytes, tcp: bool) -> bytes | None:
    loop = asyncio.get_running_loop()
    try:
        if tcp:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(server, 53), FORWARD_TIMEOUT)
            try:
                writer.write(struct.pack(">H", len(data)) + data)
                await writer.drain()
                head = await asyncio.wait_for(reader.readexactly(2), FORWARD_TIMEOUT)
                return await asyncio.wait_for(reader.readexactly(struct.unpack(">H", head)[0]), FORWARD_TIMEOUT)
            finally:
                writer.close()
        sock = socket.socket(socket.AF_INET6 if ":" in server else socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, (server, 53))
            await loop.sock_sendall(sock, data)
            return await asyncio.wait_for(loop.sock_recv(sock, 65535), FORWARD_TIMEOUT)
        finally:
            sock.close()
    except (TimeoutError, OSError, asyncio.IncompleteReadError):
        log.debug("DNS forward to %s failed", server)
        return None
