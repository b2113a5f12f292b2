"""The request id of the work at hand.

A request id is chosen per HTTP request and per websocket connection (the
caller's `X-Request-Id` when it is a short token, else a fresh one) and per
Celery task (its task id). It is held in `REQUEST_ID` while the work runs, so
every log line written on its behalf carries it and every engine API call made
for it sends it on — the engine keeps a valid id, so its log lines carry the
same one. The rule is the engine's (engine/observe/logging.py), repeated here
because the console never imports the engine.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

REQUEST_ID: ContextVar[str | None] = ContextVar("berth_console_request_id", default=None)
REQUEST_ID_HEADER = "X-Request-Id"
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
T = TypeVar("T")


def request_id_for(header: str | None) -> str:
    """The caller's id when it is a short token (letters, digits and `._:-`, at most 64, starting
    with a letter or digit), else a new random one."""
    if header and _TOKEN.fullmatch(header):
        return header
    return secrets.token_hex(8)


def is_valid(rid: str) -> bool:
    return bool(_TOKEN.fullmatch(rid))


def in_this_context(fn: Callable[..., T]) -> Callable[..., T]:
    """`fn`, run wherever it is called with the caller's request id and current span — for thread
    pools and threads, which start from an empty context, so the work they do for a request keeps
    its id and joins its trace. Only these two travel (not the whole context: asgiref keeps state
    there that must not leak into foreign threads); the wrapper may run in several threads at once.
    """
    from console.observe import tracing

    rid = REQUEST_ID.get()
    span_context = tracing.capture()

    def run(*args: Any, **kwargs: Any) -> T:
        token = REQUEST_ID.set(rid)
        try:
            with tracing.attached(span_context):
                return fn(*args, **kwargs)
        finally:
            REQUEST_ID.reset(token)

    return run
