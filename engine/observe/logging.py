"""The engine's log lines: text or JSON lines, each tagged with the API request it belongs to.

A request id is chosen per API request (`request_id_for`: the client's
`X-Request-Id` when it is a short token, else a fresh one) and held in the
`REQUEST_ID` context variable while the request is handled; tasks started from
the handler inherit it, so every line logged on the request's behalf carries it.

`--log-format json` writes one JSON object a line with `time` (RFC 3339, UTC),
`level`, `logger`, `message`, `request_id` (null outside a request), the trace
and span ids when tracing is on, any `extra={...}` fields of the call, and
`exc_info` with the traceback of a logged exception.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
from collections.abc import Callable
from contextvars import Context, ContextVar
from datetime import UTC, datetime
from typing import Any, TypeVar

REQUEST_ID: ContextVar[str | None] = ContextVar("berth_request_id", default=None)
REQUEST_ID_HEADER = "X-Request-Id"
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(request_tag)s: %(message)s"

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "request_id", "request_tag", "trace_id", "span_id", "taskName",
}

TraceIds = Callable[[], "dict[str, str] | None"]
T = TypeVar("T")


def request_id_for(header: str | None) -> str:
    """The client's id when it is a short token (letters, digits and `._:-`, at most 64), else a new one."""
    if header and _TOKEN.fullmatch(header):
        return header
    return secrets.token_hex(8)


def outside_request(fn: Callable[..., T], *args: Any) -> T:
    """Call `fn` in an empty context: the tasks and callbacks it sets up outlive the
    current request, so their log lines and spans must not claim to be part of it."""
    return Context().run(fn, *args)


class RequestContext(logging.Filter):
    """Puts the current request id (and trace ids, when tracing is on) on every record."""

    def __init__(self, trace_ids: TraceIds | None = None) -> None:
        super().__init__()
        self.trace_ids = trace_ids

    def filter(self, record: logging.LogRecord) -> bool:
        rid = REQUEST_ID.get()
        record.request_id = rid
        record.request_tag = f" [{rid}]" if rid else ""
        if self.trace_ids is not None:
            ids = self.trace_ids()
            if ids:
                record.trace_id, record.span_id = ids["trace_id"], ids["span_id"]
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line; values that JSON cannot hold are written as their str()."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _rfc3339(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key in ("trace_id", "span_id"):
            if hasattr(record, key):
                out[key] = getattr(record, key)
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def _rfc3339(created: float) -> str:
    stamp = datetime.fromtimestamp(created, tz=UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def make_handler(fmt: str, trace_ids: TraceIds | None = None, stream: Any = None) -> logging.Handler:
    """A stream handler (stderr by default) writing `fmt` ("text" or "json") lines."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestContext(trace_ids))
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    return handler


def configure(level: str, fmt: str, trace_ids: TraceIds | None = None) -> None:
    """Route every logger of the process to one handler in `fmt`, at `level`."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(make_handler(fmt, trace_ids))
    root.setLevel(getattr(logging, level.upper()))
    logging.getLogger("pyroute2").setLevel(logging.WARNING)
    logging.getLogger("asyncio").setLevel(logging.INFO)
