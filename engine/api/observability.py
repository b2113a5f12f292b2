"""Observing the engine through its API: readiness, metrics, filesystem drift, and each request.

Routes (on every API listener, so whoever may use the API socket — root, or the
socket's group, or a TLS client with a verified certificate — may read them):

  GET /_berth/ready              200 {"ready": true, ...}, or 503 with the reasons (readiness;
                                 `/_ping` stays liveness). Under Berth's own prefix, so no
                                 Docker API path can ever clash with it.
  GET /metrics                   Prometheus exposition (OpenMetrics when the scraper asks).
  GET /containers/{id}/changes   Docker's `docker diff`: [{"Path", "Kind"}] or null.

`RequestObserver` wraps the router: it gives each request an id (`X-Request-Id`,
echoed in the reply), a tracing span continued from the caller's `traceparent`,
a debug access-log line, and its count and latency in the metrics.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from engine.api.http import Handler, Reply, ReplyLike, Request, Streaming
from engine.api.router import Router
from engine.api.services import Services
from engine.observe import metrics, tracing
from engine.observe.logging import REQUEST_ID, REQUEST_ID_HEADER, request_id_for
from engine.observe.readiness import Readiness
from engine.snapshots.changes import container_changes

READY_PATH = "/_berth/ready"
access_log = logging.getLogger("engine.api.access")


def register(router: Router, s: Services, readiness: Readiness) -> None:
    async def ready(req: Request) -> Reply:
        problems = await readiness.problems()
        if not problems:
            return Reply.json({"ready": True, "reasons": []})
        return Reply.json({"ready": False, "reasons": problems, "message": "not ready: " + "; ".join(problems)}, 503)

    async def scrape(req: Request) -> Reply:
        body, content_type = metrics.exposition(req.headers.get("accept"))
        return Reply(200, body, content_type)

    async def changes(req: Request) -> Reply:
        c = s.containers.get(req.params["id"])
        rootfs = s.containers.lifecycle.rootfs(c)
        lowers = rootfs.lowers(c.layer_chain) if c.layer_chain else []
        found = await asyncio.to_thread(container_changes, rootfs.upper, lowers)
        return Reply.json([change.to_json() for change in found] or None)  # Docker answers null for none

    router.add("GET", READY_PATH, ready)
    router.add("GET", "/metrics", scrape)
    router.add("GET", "/containers/{id}/changes", changes)


class RequestObserver:
    """Request ids, server spans, access log and request metrics around `dispatch`.

    `scope` is the HTTP server's request scope (it runs in the connection's task,
    so the stream of a reply is inside it too); `dispatch` is the handler the
    server calls, and measures until the reply's head is ready.
    """

    def __init__(self, dispatch: Handler) -> None:
        self.inner = dispatch

    @contextmanager
    def scope(self, req: Request) -> Iterator[None]:
        req.request_id = request_id_for(req.headers.get("x-request-id"))
        token = REQUEST_ID.set(req.request_id)
        try:
            with tracing.server_span(req.method, req.raw_path, req.headers) as span:
                req.span = span
                yield
        finally:
            REQUEST_ID.reset(token)

    async def dispatch(self, req: Request) -> ReplyLike:
        started = time.perf_counter()
        try:
            reply = await self.inner(req)
        except asyncio.CancelledError:
            self._record(req, 499, started)  # the client went away first (nginx's "client closed request")
            raise
        status = reply.status if isinstance(reply, (Reply, Streaming)) else (101 if req.upgrade else 200)
        self._record(req, status, started)
        reply.headers[REQUEST_ID_HEADER] = req.request_id
        return reply

    def _record(self, req: Request, status: int, started: float) -> None:
        seconds = time.perf_counter() - started
        route = req.route or metrics.UNMATCHED_ROUTE
        metrics.count_request(req.method, route, status, seconds)
        tracing.annotate_server_span(req.span, req.method, route, status, req.request_id)
        access_log.debug("%s %s %d %.1fms", req.method, req.raw_path, status, seconds * 1000, extra={
            "method": req.method, "path": req.raw_path, "route": route, "status": status,
            "duration_ms": round(seconds * 1000, 3)})
