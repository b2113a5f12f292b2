"""The events websocket, /ws/endpoints/<eid>/events/: an endpoint's engine events, live, in batches.

Protocol (server → browser only), for every page that follows an engine
(the containers list, the dashboard, …):

    {"events": [<Docker event JSON>, ...]}   at most every BATCH_SECONDS, never empty
    {"error": "<message a person can read>"} then the socket closes with ENGINE_GONE;
                                             Berth.socket reconnects with back-off

Lifecycle: `connect()` accepts, then refuses non-administrators (close 4403) and
unknown endpoints (close 4404), or opens ONE engine event stream (`GET
/events`) in a thread, which hands each event to the event loop. A forwarding
task sends what has queued, batched. `disconnect()` closes the engine stream (the
thread's blocking read ends) and cancels the task, so a closed page leaves no
stream behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from console.accounts.access import websocket_allowed
from console.accounts.policy import visible_events
from console.endpoints.client import EngineError, endpoint_client
from console.endpoints.models import Endpoint
from console.observe.context import in_this_context

log = logging.getLogger(__name__)

BATCH_SECONDS = 0.25
MAX_QUEUED = 10_000  # events waiting for the browser; beyond this they are dropped (a storm, a stuck client)
REFUSED, NO_SUCH_ENDPOINT, ENGINE_GONE = 4403, 4404, 4502


class EngineEventsConsumer(AsyncJsonWebsocketConsumer):
    """One browser socket ↔ one engine event stream, forwarded in batches (only events about what the user may see)."""

    access_action = "event.view"

    async def connect(self) -> None:
        # Accept first, then close with a reason: a close before the handshake reaches the
        # browser as 1006, and Berth.socket would keep retrying a refusal.
        await self.accept()
        eid = self.scope["url_route"]["kwargs"]["eid"]
        self.endpoint = await database_sync_to_async(Endpoint.objects.filter(pk=eid).first)()
        if not await database_sync_to_async(websocket_allowed)(self.scope, self.access_action, self.endpoint):
            await self.close(code=NO_SUCH_ENDPOINT if self.endpoint is None and websocket_allowed(self.scope) else REFUSED)
            return
        if self.endpoint is None:
            await self.close(code=NO_SUCH_ENDPOINT)
            return
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[dict[str, Any] | str] = asyncio.Queue(MAX_QUEUED)
        self.stream: Any = None
        self.closing = threading.Event()
        # in_this_context: the engine stream carries the websocket's request id (console/observe).
        self.pump = threading.Thread(target=in_this_context(self.read_engine_events), name=f"events-{eid}", daemon=True)
        self.pump.start()
        self.forwarder = asyncio.create_task(self.forward_batches())

    async def disconnect(self, code: int) -> None:
        if not hasattr(self, "closing"):
            return  # refused: no stream was opened
        self.closing.set()
        self.close_stream()
        self.forwarder.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):  # a send to a gone browser may have failed it
            await self.forwarder

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """The browser has nothing to say on this socket; anything it sends is ignored."""

    def close_stream(self) -> None:
        stream = self.stream
        if stream is not None:
            with contextlib.suppress(Exception):  # already closed by the engine: nothing left to release
                stream.close()

    def read_engine_events(self) -> None:
        """Thread: hold the engine's event stream, queue each event; queue an error text when it fails or ends."""
        problem = "the engine's event stream ended"
        try:
            with endpoint_client(self.endpoint) as client:
                self.stream = client.api.events(decode=True)
                if self.closing.is_set():
                    self.close_stream()
                for event in self.stream:
                    if not self.post(event):
                        break  # the socket's loop is gone: nobody reads any more
        except EngineError as exc:
            problem = exc.message
        except Exception as exc:  # the stream broke mid-read; say so rather than die silently
            problem = f"the engine's event stream failed: {exc}"
        if not self.closing.is_set():
            log.info("events for endpoint %s: %s", self.endpoint.name, problem)
            self.post(problem)

    def post(self, item: dict[str, Any] | str) -> bool:
        """From the reader thread: queue `item` on the socket's loop. False, and the engine stream closed,
        when that loop has closed meanwhile (the socket's server or test client is gone)."""
        try:
            self.loop.call_soon_threadsafe(self.enqueue, item)
        except RuntimeError:
            self.closing.set()
            self.close_stream()
            return False
        return True

    def enqueue(self, item: dict[str, Any] | str) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(item)

    async def forward_batches(self) -> None:
        """Send queued events, at most one message per BATCH_SECONDS; an error text ends the socket."""
        sent_at = 0.0
        while True:
            first = await self.queue.get()
            wait = sent_at + BATCH_SECONDS - self.loop.time()
            if wait > 0 and not isinstance(first, str):
                await asyncio.sleep(wait)
            batch: list[dict[str, Any]] = []
            problem = first if isinstance(first, str) else ""
            if not problem:
                batch.append(first)  # type: ignore[arg-type]
            while not problem and not self.queue.empty():
                item = self.queue.get_nowait()
                if isinstance(item, str):
                    problem = item
                else:
                    batch.append(item)
            if batch:  # only what the user may see (console/accounts/policy.py)
                batch = await database_sync_to_async(visible_events)(self.scope["user"], self.endpoint, batch)
            if batch:
                await self.send_json({"events": batch})
                sent_at = self.loop.time()
            if problem:
                await self.send_json({"error": problem})
                await self.close(code=ENGINE_GONE)
                return
