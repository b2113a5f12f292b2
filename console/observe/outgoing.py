"""What every engine API call carries, and how it is measured.

console/endpoints/client.py routes each HTTP request of the Docker SDK (the
version negotiation, streams and hijacked exec/attach sockets included) through
`observed_send`. It adds `X-Request-Id` (the current request's or task's id, so
the engine's log lines carry the same id) and, inside a recording span, a CLIENT
span named after the call's path template whose context goes along as W3C
`traceparent` — the engine continues that trace. The time to the response's
head is counted in berth_console_engine_request_duration_seconds.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests

from console.observe import metrics, tracing
from console.observe.context import REQUEST_ID, REQUEST_ID_HEADER

VERSION_PREFIX = re.compile(r"^/v\d+\.\d+(?=/)")
# Second segments that name an operation on the collection itself, not one object.
COLLECTION_WORDS = frozenset({"json", "create", "prune", "search", "load", "get", "build"})
# Where an image name (which may hold slashes) ends: the operation after it.
IMAGE_OPERATIONS = frozenset({"json", "history", "push", "tag", "get"})


def path_template(path: str) -> str:
    """`/v1.41/containers/3f2a…/start?x=1` → `/containers/{id}/start`: few names, whatever the ids."""
    path = VERSION_PREFIX.sub("", urlsplit(path).path) or "/"
    parts = path.strip("/").split("/")
    if len(parts) < 2 or parts[1] in COLLECTION_WORDS:
        return path
    if parts[0] == "images" and parts[-1] in IMAGE_OPERATIONS and len(parts) > 2:
        return f"/images/{{name}}/{parts[-1]}"
    if parts[0] == "images":
        return "/images/{name}"
    return "/" + "/".join([parts[0], "{id}", *parts[2:]])


def observed_send(send: Callable[..., requests.Response], request: requests.PreparedRequest,
                  **kwargs: Any) -> requests.Response:
    """Send `request` with `send` (requests.Session.send), carrying the request id and trace context."""
    rid = REQUEST_ID.get()
    if rid:
        request.headers[REQUEST_ID_HEADER] = rid
    method = request.method or "GET"
    template = path_template(request.path_url)
    started = time.perf_counter()
    status: int | None = None
    try:
        attributes = {"http.request.method": method, "url.template": template, "url.path": urlsplit(request.path_url).path}
        with tracing.client_span(f"engine {method} {template}", request.headers, attributes) as span:
            response = send(request, **kwargs)
            status = response.status_code
            tracing.finish_client_span(span, status)
        return response
    finally:
        metrics.count_engine_call(method, status, time.perf_counter() - started)
