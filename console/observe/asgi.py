"""`WebsocketObserver`: an ASGI wrapper around the console's websocket stack.

Consumers stay untouched: the wrapper watches the ASGI messages going by. For
each connection it
- names the consumer the path routes to (its class name; `unmatched` for none),
- chooses a request id (a valid `X-Request-Id` of the handshake, else a new one)
  and holds it for the connection's life, so the consumer's log lines and
  engine calls carry it,
- opens a SERVER span `WS Consumer` that ends at the handshake's answer
  (accept → 101, close before accept → 403) when tracing is on,
- counts handshakes (accepted / refused), open connections and messages in
  each direction (console/observe/metrics.py).

Everything that is not a websocket passes through untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from django.urls import Resolver404

from console.observe import metrics, tracing
from console.observe.context import REQUEST_ID, request_id_for

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def consumer_name(path: str, routes: Iterable[Any]) -> str:
    """The class name of the consumer `path` routes to among Channels `routes` (django URL patterns)."""
    path = path.lstrip("/")
    for route in routes:
        try:
            if route.pattern.match(path):
                app = route.callback
                consumer = getattr(app, "consumer_class", None)
                return consumer.__name__ if consumer is not None else (route.name or "unnamed")
        except Resolver404:  # a nested router that does not match raises it
            continue
    return "unmatched"


class _Connection:
    """One websocket's state as seen from its messages; each transition is counted once."""

    def __init__(self, consumer: str, span: Any, request_id: str) -> None:
        self.consumer, self.span, self.request_id = consumer, span, request_id
        self.accepted = self.closed = False

    def accept(self) -> None:
        if not self.accepted and not self.closed:
            self.accepted = True
            metrics.websocket_opened(self.consumer)
            self._end_span(101)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.accepted:
            metrics.websocket_closed(self.consumer)
        else:
            metrics.websocket_refused(self.consumer)
            self._end_span(403)

    def _end_span(self, status: int) -> None:
        tracing.finish_server_span(self.span, f"WS {self.consumer}", self.consumer, status, self.request_id)
        tracing.end_span(self.span)


class WebsocketObserver:
    def __init__(self, app: App, routes: Iterable[Any]) -> None:
        self.app = app
        self.routes = list(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        consumer = consumer_name(scope.get("path", ""), self.routes)
        rid = request_id_for(headers.get("x-request-id"))
        token = REQUEST_ID.set(rid)
        try:
            attributes = {"url.path": scope.get("path", ""), "berth.consumer": consumer}
            with tracing.server_span(f"WS {consumer}", headers, attributes, end_on_exit=False) as span:
                conn = _Connection(consumer, span, rid)
                try:
                    await self.app(scope, self._receive(receive, conn), self._send(send, conn))
                finally:
                    conn.close()
        finally:
            REQUEST_ID.reset(token)

    @staticmethod
    def _receive(receive: Receive, conn: _Connection) -> Receive:
        async def observed() -> Message:
            message = await receive()
            kind = message.get("type")
            if kind == "websocket.receive":
                metrics.websocket_message(conn.consumer, "in")
            elif kind == "websocket.disconnect":
                conn.close()
            return message
        return observed

    @staticmethod
    def _send(send: Send, conn: _Connection) -> Send:
        async def observed(message: Message) -> None:
            kind = message.get("type")
            if kind == "websocket.accept":
                conn.accept()
            elif kind == "websocket.send":
                metrics.websocket_message(conn.consumer, "out")
            elif kind == "websocket.close":
                conn.close()
            await send(message)
        return observed
