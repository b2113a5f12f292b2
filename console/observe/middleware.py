"""`RequestObserver`: the outermost Django middleware — request id, server span, access log, metrics.

For each request it
- chooses the request id (console/observe/context.py), holds it in REQUEST_ID
  while the request is handled (log lines and engine calls carry it) and returns
  it as `X-Request-Id`;
- opens a SERVER span continuing the caller's `traceparent` when tracing is on,
  named `METHOD route` once the URL is resolved;
- counts the request and its time to the response's head by method, Django URL
  name and status;
- writes one access-log line (`console.access`, INFO; DEBUG for the probes and
  /metrics, which are polled) with method, path, route, status and duration.

It works in both of Django's modes, so it adds no sync/async switch of its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from console.observe import metrics, tracing
from console.observe.context import REQUEST_ID, REQUEST_ID_HEADER, request_id_for

access_log = logging.getLogger("console.access")
QUIET_ROUTES = frozenset({"healthz-live", "healthz-ready", "metrics"})

GetResponse = Callable[[HttpRequest], Any]


def route_of(request: HttpRequest) -> str:
    """The URL name the request resolved to (the view's dotted path when unnamed), or `unmatched`."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return metrics.UNMATCHED_ROUTE
    return match.view_name or match.route or metrics.UNMATCHED_ROUTE


class _Observation:
    def __init__(self, request: HttpRequest, span: Any, request_id: str) -> None:
        self.request, self.span, self.request_id = request, span, request_id
        self.started = time.perf_counter()

    def finish(self, response: HttpResponseBase) -> HttpResponseBase:
        request, status = self.request, response.status_code
        seconds = time.perf_counter() - self.started
        route = route_of(request)
        method = request.method or "GET"
        tracing.finish_server_span(self.span, f"{method} {route}", route, status, self.request_id)
        metrics.count_request(method, route, status, seconds)
        level = logging.DEBUG if route in QUIET_ROUTES else logging.INFO
        access_log.log(level, "%s %s %d %.1fms", method, request.path, status, seconds * 1000, extra={
            "method": method, "path": request.path, "route": route, "status": status,
            "duration_ms": round(seconds * 1000, 3)})
        response[REQUEST_ID_HEADER] = self.request_id
        return response


@contextmanager
def observing(request: HttpRequest) -> Iterator[_Observation]:
    rid = request_id_for(request.headers.get(REQUEST_ID_HEADER))
    request.request_id = rid  # type: ignore[attr-defined]
    token = REQUEST_ID.set(rid)
    try:
        method = request.method or "GET"
        attributes = {"http.request.method": method, "url.path": request.path}
        with tracing.server_span(method, request.headers, attributes) as span:
            yield _Observation(request, span, rid)
    finally:
        REQUEST_ID.reset(token)


class RequestObserver:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return self._acall(request)
        with observing(request) as seen:
            return seen.finish(self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        with observing(request) as seen:
            return seen.finish(await self.get_response(request))
