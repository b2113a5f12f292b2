"""The combined logs websocket of a stack, /ws/endpoints/<eid>/stacks/<sid>/logs/?tail=&since=, as
`docker-compose logs -f` shows them: every container of the project followed at once, each line prefixed
with its container's short name (`app_1`).

Protocol (server → browser): `{"containers": ["app_1", "db_1"]}` first, then
`{"lines": [[who, service, stream, timestamp, text], ...]}` at most every FLUSH_INTERVAL (a batch is
ordered by time), `{"ended": who}` when one container's stream ends (it stopped), and
`{"error": "..."}` before a close with 4502 when the engine cannot be asked. The browser sends nothing.

Lifecycle: `connect()` accepts, refuses users without stack.logs on the endpoint or on this stack (4403;
console/stacks/permissions.py), unknown stacks (4404) and bad queries
(4400), lists the project's containers on every endpoint the stack uses (Stack.endpoints()), then holds
ONE engine log stream per container, on the container's own endpoint (StreamThread,
console/containers/engine_streams.py). `disconnect()` stops them all. At most MAX_PENDING lines wait for
the browser; beyond that the oldest are dropped and `dropped` says how many.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from typing import Any
from urllib.parse import parse_qsl

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from console.accounts.access import websocket_allowed
from console.containers.consumers import call_soon
from console.containers.engine_streams import StreamThread, open_stream
from console.containers.log_lines import LogParser, LogQuery
from console.stacks import discovery, permissions
from console.stacks.models import Stack

REFUSED, NOT_FOUND, BAD_QUERY, ENGINE_GONE = 4403, 4404, 4400, 4502
ACTION = "stack.logs"
FLUSH_INTERVAL = 0.1
MAX_PENDING = 5000
MAX_TAIL = 2000


def _stack(eid: int, sid: int) -> Stack | None:
    return Stack.objects.select_related("endpoint").filter(pk=sid, endpoint_id=eid).first()


def _refused(scope: dict[str, Any], eid: int) -> bool:
    """Whether the user lacks stack.logs on endpoint `eid` (an unknown endpoint: refused too)."""
    from console.endpoints.models import Endpoint

    endpoint = Endpoint.objects.filter(pk=eid).first()
    return not websocket_allowed(scope, ACTION, endpoint)


def short_name(project: str, container: str) -> str:
    """`course_app_1` → `app_1` (docker-compose's log prefix)."""
    return container.removeprefix(f"{project}_")


class StackLogsConsumer(AsyncWebsocketConsumer):
    channel_layer_alias = "stack-logs-need-no-layer"  # no group: each socket holds its own engine streams
    access_action = "stack.logs"  # the role on the endpoint, then the stack's owner (console/stacks/permissions.py)

    pumps: list[StreamThread]
    sender: asyncio.Task | None = None

    async def connect(self) -> None:
        self.pumps = []
        await self.accept()
        kwargs = self.scope["url_route"]["kwargs"]
        if await database_sync_to_async(_refused)(self.scope, kwargs["eid"]):
            await self.close(code=REFUSED)
            return
        stack = await database_sync_to_async(_stack)(kwargs["eid"], kwargs["sid"])
        if stack is None:
            await self.close(code=NOT_FOUND)
            return
        if not await database_sync_to_async(permissions.may)(self.scope.get("user"), stack, ACTION):
            await self.close(code=REFUSED)
            return
        params = dict(parse_qsl(self.scope.get("query_string", b"").decode("latin-1")))
        try:
            query = LogQuery.from_params(params, now=time.time(), default_tail=100, max_tail=MAX_TAIL)
        except ValueError as exc:
            await self.send_json({"error": str(exc)})
            await self.close(code=BAD_QUERY)
            return
        endpoints = await database_sync_to_async(stack.endpoints)()
        found, errors = await asyncio.to_thread(discovery.spread_project, endpoints, stack.name)
        if errors and found is None:
            await self.send_json({"error": "; ".join(errors)})
            await self.close(code=ENGINE_GONE)
            return
        containers = found.containers if found else []
        self.endpoints = {e.pk: e for e in endpoints}
        self.pending: deque[list[Any]] = deque(maxlen=MAX_PENDING)
        self.dropped = 0
        self.ended: list[str] = []
        self.wake = asyncio.Event()
        await self.send_json({"containers": [short_name(stack.name, c.name) for c in containers]})
        loop = asyncio.get_running_loop()
        for c in containers:
            self.pumps.append(self.follow(loop, stack, c, query.engine_params(timestamps=True)))
        self.sender = asyncio.create_task(self.forward())

    def follow(self, loop: asyncio.AbstractEventLoop, stack: Stack, c: discovery.ContainerRow,
               params: dict[str, Any]) -> StreamThread:
        """Start following one container; its lines go to `pending` with its short name and service."""
        who = short_name(stack.name, c.name)
        parser = LogParser(tty=False, timestamps=True)

        def on_chunk(data: bytes) -> None:
            lines = parser.feed(data)
            if lines:
                call_soon(loop, self.queue, [[who, c.service, s, ts, text] for s, ts, text in lines])

        def on_end(error: str | None) -> None:
            rest = parser.flush()
            call_soon(loop, self.queue, [[who, c.service, s, ts, text] for s, ts, text in rest], who)

        pump = StreamThread(self.endpoints.get(c.endpoint_id, stack.endpoint), lambda api: open_stream(api, "/containers/{0}/logs", c.id, params),
                            on_chunk, on_end, name=f"stack-logs-{c.short_id}")
        pump.start()
        return pump

    def queue(self, lines: list[list[Any]], ended: str | None = None) -> None:
        overflow = len(self.pending) + len(lines) - MAX_PENDING
        if overflow > 0:
            self.dropped += overflow
        self.pending.extend(lines)
        if ended:
            self.ended.append(ended)
        self.wake.set()

    async def forward(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            await asyncio.sleep(FLUSH_INTERVAL)
            if self.pending:
                batch = sorted(self.pending, key=lambda line: line[3])
                self.pending.clear()
                message: dict[str, Any] = {"lines": batch}
                if self.dropped:
                    message["dropped"], self.dropped = self.dropped, 0
                await self.send_json(message)
            while self.ended:
                await self.send_json({"ended": self.ended.pop(0)})

    async def disconnect(self, code: int) -> None:
        for pump in self.pumps:
            pump.stop()
        if self.sender is not None:
            self.sender.cancel()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The browser has nothing to say on this socket."""

    async def send_json(self, payload: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(payload, separators=(",", ":")))
