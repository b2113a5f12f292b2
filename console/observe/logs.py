"""The console's log lines: text or JSON lines, each tagged with the request (or task) it belongs to.

`logging_config(fmt, level)` is settings.LOGGING: one stderr handler on the root
logger, whose records pass through `RequestContext` (request id, and trace and
span ids while tracing is on). `BERTH_LOG_FORMAT=json` (settings.py) selects
`JsonFormatter`: one object a line with `time` (RFC 3339, UTC), `level`,
`logger`, `message`, `request_id` (null outside a request), `trace_id` and
`span_id` when a span is current, the call's `extra={...}` fields, and
`exc_info` with the traceback of a logged exception. The shape is the engine's,
so one query finds a request in both.

Celery configures its workers' logging itself; `json_for_celery_logger` (connected
in task_metrics) switches the handlers it made to JSON lines when the format is json.

This module must not import Django: settings.py imports it.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from console.observe import tracing
from console.observe.context import REQUEST_ID

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(request_tag)s: %(message)s"

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "request_id", "request_tag", "trace_id", "span_id", "taskName",
    "data", "task_name", "task_id",  # Celery's task logger puts these on its records
    "request", "server_time",  # Django's request object (its id is `request_id`), Django's dev server
}


class RequestContext(logging.Filter):
    """Puts the current request id (and trace ids, when tracing is on) on every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Django logs a 4xx/5xx answer after the middleware has finished; the request it passes knows its id.
        rid = REQUEST_ID.get() or getattr(getattr(record, "request", None), "request_id", None)
        record.request_id = rid
        record.request_tag = f" [{rid}]" if rid else ""
        ids = tracing.current_ids()
        if ids:
            record.trace_id, record.span_id = ids
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line; values that JSON cannot hold are written as their str()."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _rfc3339(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", REQUEST_ID.get()),
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


def logging_config(fmt: str, level: str) -> dict[str, Any]:
    """settings.LOGGING: everything to stderr in `fmt` ("text" or "json") from `level` up."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": "console.observe.logs.RequestContext"}},
        "formatters": {
            "text": {"format": TEXT_FORMAT},
            "json": {"()": "console.observe.logs.JsonFormatter"},
        },
        # Errors (500s included) reach stderr, which `make up` sends to var/log/.
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": fmt, "filters": ["request"]}},
        "root": {"handlers": ["stderr"], "level": level},
    }


def json_for_celery_logger(logger: logging.Logger | None = None, **_: Any) -> None:
    """Celery's after_setup_logger / after_setup_task_logger: its handlers write JSON lines when asked to.

    Celery keeps its own handlers (and so its --logfile); only their format changes.
    """
    from django.conf import settings

    if logger is None or getattr(settings, "BERTH_LOG_FORMAT", "text") != "json":
        return
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter())
        if not any(isinstance(f, RequestContext) for f in handler.filters):
            handler.addFilter(RequestContext())
