"""Websockets of a container's page: live logs, live stats and a terminal.

Each socket holds ONE engine stream, read in a thread, and closing the socket
closes that stream. Every consumer admits in `connect()`: it accepts (so the
browser sees the close code), then closes with 4403 for a user who is not an
administrator, 4404 for an unknown endpoint or container, 4400 for a bad query,
or 1011 after an `{"error": ...}` message when the engine cannot be reached.

Logs (`.../logs/?tail=&since=&stdout=&stderr=&follow=`): messages
`{"seq": n, "lines": [[stream, timestamp, text], ...], "dropped": k}` (stream 1
stdout, 2 stderr, 0 a TTY's), sent at most every FLUSH_INTERVAL or when
MAX_BATCH lines wait, then `{"end": true, "error": null | "..."}`. The browser
answers each batch with `{"ack": n}`; with WINDOW batches unanswered the socket
stops sending, the waiting lines queue up to MAX_PENDING and the oldest are
dropped and counted (`dropped`, lines skipped before this batch).

Stats (`.../stats/`): `{"points": [point]}` about once a second (console.metrics.stats.Point).

Exec (`.../exec/`): the browser sends `{"type": "start", "command", "user", "rows",
"cols"}`, then keystrokes as binary frames, `{"type": "resize", "rows", "cols"}`
and `{"type": "ack", "bytes": n}` for output it has drawn; the socket sends
`{"type": "started"}`, output as binary frames (pausing beyond EXEC_WINDOW
unacknowledged bytes, so a flood waits in the process's TTY instead of memory),
`{"type": "error", "message", "fields"?}` and `{"type": "exit", "code"}`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from console.accounts.access import websocket_allowed
from console.containers.detail_ops import inspect_container
from console.containers.engine_streams import StreamThread, open_stream
from console.containers.exec_pump import ExecPump
from console.containers.log_lines import LineQueue, LogParser, LogQuery
from console.endpoints.client import EngineError
from console.endpoints.models import Endpoint
from console.metrics.stats import Totals, point, totals

log = logging.getLogger("console.containers")

CLOSE_BAD_REQUEST, CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, CLOSE_CONFLICT, CLOSE_ENGINE = 4400, 4403, 4404, 4409, 1011
FLUSH_INTERVAL = 0.05  # seconds: the longest a log line waits in the console
MAX_BATCH = 500  # lines in one message
WINDOW = 8  # log messages in flight before the browser must acknowledge
MAX_PENDING = 5000  # log lines waiting for the browser; older ones are dropped


def _endpoint(eid: int) -> Endpoint | None:
    return Endpoint.objects.filter(pk=eid).first()


def request_of(scope: dict[str, Any]) -> SimpleNamespace:
    """What console.audit.log.record reads from a request (user, REMOTE_ADDR), from a websocket's scope."""
    client = scope.get("client") or ("", 0)
    return SimpleNamespace(user=scope.get("user"), META={"REMOTE_ADDR": client[0] or ""})


class ContainerSocket(AsyncWebsocketConsumer):
    """Admission shared by the container sockets: sets `endpoint` and `container` (inspect JSON)."""

    # These sockets join no group: each holds its own engine stream. An alias that names no configured
    # layer makes Channels skip the channel layer (get_channel_layer() is None), which saves a Redis
    # connection and a blocking read per open socket.
    channel_layer_alias = "container-streams-need-no-layer"

    endpoint: Endpoint
    container: dict[str, Any]
    access_action = ""  # each socket names the policy action it needs (console/accounts/policy.py); "": admins only

    async def admit(self) -> bool:
        """True when the socket may go on; otherwise it has been closed with the reason's code."""
        await self.accept()
        kwargs = self.scope["url_route"]["kwargs"]
        endpoint = await database_sync_to_async(_endpoint)(kwargs["eid"])
        if not await database_sync_to_async(websocket_allowed)(self.scope, self.access_action, endpoint, kwargs["cid"]):
            await self.close(code=CLOSE_NOT_FOUND if endpoint is None and websocket_allowed(self.scope) else CLOSE_FORBIDDEN)
            return False
        if endpoint is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return False
        self.endpoint = endpoint
        try:
            self.container = await asyncio.to_thread(inspect_container, endpoint, kwargs["cid"])
        except EngineError as exc:
            if exc.status == 404:
                await self.close(code=CLOSE_NOT_FOUND)
            else:
                await self.send_json({"error": exc.message})
                await self.close(code=CLOSE_ENGINE)
            return False
        return True

    @property
    def container_id(self) -> str:
        return self.container["Id"]

    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.scope.get("query_string", b"").decode("latin-1")))

    async def send_json(self, payload: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(payload, separators=(",", ":")))

    async def refuse(self, message: str, code: int = CLOSE_BAD_REQUEST) -> None:
        await self.send_json({"error": message})
        await self.close(code=code)


def call_soon(loop: asyncio.AbstractEventLoop, callback: Any, *args: Any) -> None:
    """loop.call_soon_threadsafe from a stream thread; nothing when the loop has already gone (shutdown)."""
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:
        pass


def _log_task_errors(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("websocket sender failed", exc_info=task.exception())


class LogsConsumer(ContainerSocket):
    """One engine logs stream per socket, forwarded in acknowledged batches (see the module doc)."""

    access_action = "container.logs"

    pump: StreamThread | None = None
    sender: asyncio.Task | None = None

    async def connect(self) -> None:
        if not await self.admit():
            return
        try:
            query = LogQuery.from_params(self.query(), now=time.time())
        except ValueError as exc:
            await self.refuse(str(exc))
            return
        self.lines = LineQueue(MAX_PENDING)
        self.wake = asyncio.Event()
        self.sent = self.acked = 0
        self.ended: tuple[str | None] | None = None  # (error,) once the engine stream is over
        loop = asyncio.get_running_loop()
        parser = LogParser(tty=bool((self.container.get("Config") or {}).get("Tty")), timestamps=True)

        def on_chunk(data: bytes) -> None:
            lines = parser.feed(data)
            if lines and self.lines.put(lines):
                call_soon(loop, self.wake.set)

        def on_end(error: str | None) -> None:
            self.lines.put(parser.flush())
            call_soon(loop, self.stream_ended, error)

        params = query.engine_params(timestamps=True)  # always: lines carry their time; the page shows it or not
        self.pump = StreamThread(self.endpoint, lambda api: open_stream(api, "/containers/{0}/logs", self.container_id,
                                                                        params),
                                 on_chunk, on_end, name=f"logs-{self.container_id[:12]}")
        self.pump.start()
        self.sender = asyncio.create_task(self.forward())
        self.sender.add_done_callback(_log_task_errors)

    def stream_ended(self, error: str | None) -> None:
        self.ended = (error,)
        self.wake.set()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            ack = int(json.loads(text_data or "{}").get("ack", 0))
        except (ValueError, TypeError, AttributeError):
            return
        if ack > self.acked:
            self.acked = min(ack, self.sent)
            self.wake.set()

    async def forward(self) -> None:
        """Send batches while the browser keeps up; end the socket after the engine's stream ends."""
        last_send = 0.0
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.sent - self.acked < WINDOW:
                pending = len(self.lines)
                if not pending:
                    if self.ended is not None:
                        await self.send_json({"end": True, "error": self.ended[0]})
                        await self.close()
                        return
                    break
                wait = last_send + FLUSH_INTERVAL - time.monotonic()
                if pending < MAX_BATCH and wait > 0 and self.ended is None:
                    await asyncio.sleep(wait)
                    continue
                lines, dropped = self.lines.take(MAX_BATCH)
                self.sent += 1
                await self.send_json({"seq": self.sent, "lines": lines, "dropped": dropped})
                last_send = time.monotonic()

    async def disconnect(self, code: int) -> None:
        if self.pump is not None:
            self.pump.stop()
        if self.sender is not None:
            self.sender.cancel()


class StatsConsumer(ContainerSocket):
    """One engine stats stream per socket; each engine sample becomes one chart point."""

    access_action = "container.stats"

    pump: StreamThread | None = None

    async def connect(self) -> None:
        if not await self.admit():
            return
        loop = asyncio.get_running_loop()
        buffer = bytearray()
        previous: list[Totals] = []

        def on_chunk(data: bytes) -> None:
            buffer.extend(data)
            *complete, rest = bytes(buffer).split(b"\n")
            buffer[:] = rest
            points = []
            for raw in complete:
                if not raw.strip():
                    continue
                current = totals(json.loads(raw), now=time.time())
                points.append(point(current, previous[-1] if previous else None).as_dict())
                previous[:] = [current]
            if points:
                asyncio.run_coroutine_threadsafe(self.send_json({"points": points}), loop)

        def on_end(error: str | None) -> None:
            asyncio.run_coroutine_threadsafe(self.finish(error), loop)

        self.pump = StreamThread(self.endpoint, lambda api: open_stream(api, "/containers/{0}/stats", self.container_id,
                                                                        {"stream": 1}),
                                 on_chunk, on_end, name=f"stats-{self.container_id[:12]}")
        self.pump.start()

    async def finish(self, error: str | None) -> None:
        await self.send_json({"end": True, "error": error})
        await self.close()

    async def disconnect(self, code: int) -> None:
        if self.pump is not None:
            self.pump.stop()


class ExecConsumer(ContainerSocket):
    """A terminal: one exec instance with a TTY per socket, bytes both ways (see the module doc)."""

    access_action = "container.exec"

    pump: ExecPump | None = None

    async def connect(self) -> None:
        if not await self.admit():
            return
        if not (self.container.get("State") or {}).get("Running"):
            await self.send_json({"type": "error", "message": "The container is not running; start it first."})
            await self.close(code=CLOSE_CONFLICT)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if bytes_data is not None:
            if self.pump is not None:
                self.pump.write(bytes_data)
            return
        try:
            message = json.loads(text_data or "")
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        kind = message.get("type")
        if kind == "start" and self.pump is None:
            await self.start_exec(message)
        elif self.pump is not None and kind == "resize":
            await asyncio.to_thread(self.pump.resize, message.get("rows"), message.get("cols"))
        elif self.pump is not None and kind == "ack":
            self.pump.acknowledge(message.get("bytes"))
        elif self.pump is not None and kind == "input" and isinstance(message.get("data"), str):
            self.pump.write(message["data"].encode())

    async def start_exec(self, message: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()

        def on_output(data: bytes) -> None:
            asyncio.run_coroutine_threadsafe(self.send(bytes_data=data), loop).result(timeout=30)

        def on_exit(code: int | None) -> None:
            asyncio.run_coroutine_threadsafe(self.exited(code), loop)

        pump = ExecPump(self.endpoint, self.container_id, on_output, on_exit)
        outcome = await pump.start(message, request_of(self.scope), self.container.get("Name", "").lstrip("/"))
        if outcome is not None:
            await self.send_json({"type": "error", **outcome})
            return
        self.pump = pump
        await self.send_json({"type": "started"})

    async def exited(self, code: int | None) -> None:
        await self.send_json({"type": "exit", "code": code})
        await self.close()

    async def disconnect(self, code: int) -> None:
        if self.pump is not None:
            await asyncio.to_thread(self.pump.stop)
