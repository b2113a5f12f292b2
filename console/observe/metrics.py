"""The console's Prometheus metrics (official `prometheus_client`), served at GET /metrics.

Instruments live in one registry of their own (`REGISTRY`), so /metrics shows
exactly what is listed here, the process collector (CPU, memory, open fds) and
the Celery figures the workers push through Redis (console/observe/task_metrics.py):

  berth_console_http_requests_total{method,route,status}              counter
  berth_console_http_request_duration_seconds{method,route,status}    histogram, to the response's head
  berth_console_websocket_connections{consumer}                       gauge, open now (this process)
  berth_console_websocket_connects_total{consumer,outcome}            counter, accepted | refused
  berth_console_websocket_messages_total{consumer,direction}          counter, in | out
  berth_console_engine_request_duration_seconds{method,status}        histogram, engine API calls of
                                                                      this process ("error": no answer)
  berth_console_celery_tasks_total{task,state}                        counter (all workers)
  berth_console_celery_task_duration_seconds{task}                    histogram (all workers)
  berth_console_celery_task_failures_total{task,exception}            counter (all workers)
  berth_console_celery_metrics_readable                               gauge, 0 when Redis did not answer

`route` is the Django URL name (`containers:detail`), never the raw path, and
`unmatched` for paths no URL knows; methods outside the usual ones count as
`other` — label sets stay few whatever a client sends.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.exposition import choose_encoder

UNMATCHED_ROUTE = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

disable_created_metrics()  # no `*_created` series: they double what a scrape shows for little use
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)

HTTP_REQUESTS = Counter(
    "berth_console_http_requests", "HTTP requests answered by the console, by method, URL name and status.",
    ("method", "route", "status"), registry=REGISTRY)
HTTP_SECONDS = Histogram(
    "berth_console_http_request_duration_seconds",
    "Time from a request reaching Django to its response's head (a streamed body is not included).",
    ("method", "route", "status"), registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30))
WEBSOCKETS_OPEN = Gauge(
    "berth_console_websocket_connections", "Websocket connections open now, by consumer.", ("consumer",),
    registry=REGISTRY)
WEBSOCKET_CONNECTS = Counter(
    "berth_console_websocket_connects", "Websocket handshakes, by consumer and outcome (accepted or refused).",
    ("consumer", "outcome"), registry=REGISTRY)
WEBSOCKET_MESSAGES = Counter(
    "berth_console_websocket_messages", "Websocket messages, by consumer and direction (in: from the browser).",
    ("consumer", "direction"), registry=REGISTRY)
ENGINE_SECONDS = Histogram(
    "berth_console_engine_request_duration_seconds",
    "Engine API calls made by this process, to the response's head, by method and status.",
    ("method", "status"), registry=REGISTRY,
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))


def method_label(method: str) -> str:
    return method if method in METHODS else "other"


def count_request(method: str, route: str, status: int, seconds: float) -> None:
    labels = (method_label(method), route or UNMATCHED_ROUTE, str(status))
    HTTP_REQUESTS.labels(*labels).inc()
    HTTP_SECONDS.labels(*labels).observe(seconds)


def count_engine_call(method: str, status: int | None, seconds: float) -> None:
    ENGINE_SECONDS.labels(method_label(method), str(status) if status else "error").observe(seconds)


def websocket_opened(consumer: str) -> None:
    WEBSOCKETS_OPEN.labels(consumer).inc()
    WEBSOCKET_CONNECTS.labels(consumer, "accepted").inc()


def websocket_refused(consumer: str) -> None:
    WEBSOCKET_CONNECTS.labels(consumer, "refused").inc()


def websocket_closed(consumer: str) -> None:
    WEBSOCKETS_OPEN.labels(consumer).dec()


def websocket_message(consumer: str, direction: str) -> None:
    WEBSOCKET_MESSAGES.labels(consumer, direction).inc()


def exposition(accept: str | None) -> tuple[bytes, str]:
    """The registry in the format the scraper asked for (Prometheus text, or OpenMetrics)."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(REGISTRY), content_type
