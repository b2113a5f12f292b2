"""Celery task figures from every worker, through Redis: pushed when a task ends, read at scrape.

Workers run in other processes (and, in docker-compose.dev.yml, other
containers), so they cannot share the console's in-process registry.
Each task's end is added to one Redis hash (`KEY`) with atomic increments; the
console's /metrics reads the hash back (`CeleryTaskCollector`) and shows
counters and a histogram summed over all workers. Nothing is reset: a counter
only grows while Redis keeps the hash, which is what Prometheus expects.

Hash fields (task names contain no `|`):
  runs|<task>|<state>            tasks ended, by final state (success, failure, retry, …)
  failures|<task>|<exception>    failures, by exception class
  count|<task>, sum|<task>       the duration histogram's count and sum (seconds)
  bucket|<task>|<le>             observations <= le (cumulative; `+Inf` = count)

The signal receivers (connected by `connect_signals`, from the app's ready())
also hold the task id as the request id while a task runs, so its log lines and
engine calls carry it. A Redis that does not answer loses figures, never a task.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from contextvars import Token
from typing import Any

import redis
from celery import signals
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from console.observe import logs, metrics, redis_conn
from console.observe.context import REQUEST_ID, is_valid

log = logging.getLogger(__name__)

KEY = "berth:metrics:celery"
BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
_started: dict[str, float] = {}  # task id → perf_counter at prerun, in the process that runs it
_tokens: dict[str, Token[str | None]] = {}  # task id → how to restore the request id at postrun


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


def record_run(task: str, state: str, seconds: float) -> None:
    """Add one finished run to the hash (one round trip)."""
    pipe = redis_conn.client().pipeline(transaction=False)
    pipe.hincrby(KEY, f"runs|{task}|{state.lower()}", 1)
    pipe.hincrby(KEY, f"count|{task}", 1)
    pipe.hincrbyfloat(KEY, f"sum|{task}", seconds)
    for bound in (*BUCKETS, float("inf")):
        if seconds <= bound:
            pipe.hincrby(KEY, f"bucket|{task}|{_le(bound)}", 1)
    pipe.execute()


def record_failure(task: str, exception: str) -> None:
    redis_conn.client().hincrby(KEY, f"failures|{task}|{exception}", 1)


# -- Celery signals ---------------------------------------------------------------------------
def task_started(task_id: str | None = None, **_: Any) -> None:
    """A task's id becomes the request id while it runs — unless it runs eagerly inside a request,
    which keeps the request's."""
    if task_id:
        _started[task_id] = time.perf_counter()
        if REQUEST_ID.get() is None and is_valid(task_id):
            _tokens[task_id] = REQUEST_ID.set(task_id)


def task_ended(task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any) -> None:
    started = _started.pop(task_id or "", None)
    token = _tokens.pop(task_id or "", None)
    if token is not None:
        try:
            REQUEST_ID.reset(token)
        except ValueError:  # ended in another context than it started in
            REQUEST_ID.set(None)
    if started is None or task is None:
        return
    try:
        record_run(task.name, state or "unknown", time.perf_counter() - started)
    except redis.RedisError as exc:
        log.warning("task metrics not recorded: %s", exc)


def task_failed(sender: Any = None, exception: BaseException | None = None, **_: Any) -> None:
    if sender is None:
        return
    try:
        record_failure(sender.name, type(exception).__name__ if exception is not None else "unknown")
    except redis.RedisError as exc:
        log.warning("task failure not recorded: %s", exc)


def connect_signals() -> None:
    """Hook every task of every worker (idempotent: receivers are connected once by uid)."""
    signals.task_prerun.connect(task_started, weak=False, dispatch_uid="berth-observe-prerun")
    signals.task_postrun.connect(task_ended, weak=False, dispatch_uid="berth-observe-postrun")
    signals.task_failure.connect(task_failed, weak=False, dispatch_uid="berth-observe-failure")
    signals.after_setup_logger.connect(logs.json_for_celery_logger, weak=False, dispatch_uid="berth-observe-log")
    signals.after_setup_task_logger.connect(logs.json_for_celery_logger, weak=False,
                                            dispatch_uid="berth-observe-task-log")


# -- reading back at scrape time ---------------------------------------------------------------
class CeleryTaskCollector(Collector):
    """The hash as Prometheus families; `berth_console_celery_metrics_readable` 0 when Redis is away."""

    def collect(self) -> Iterator[Metric]:
        try:
            fields: dict[str, str] = redis_conn.client().hgetall(KEY)  # type: ignore[assignment]
            readable = 1
        except redis.RedisError:
            fields, readable = {}, 0
        yield GaugeMetricFamily("berth_console_celery_metrics_readable",
                                "1 when the workers' task figures could be read from Redis at this scrape.",
                                value=readable)
        yield from families(fields)


def families(fields: dict[str, str]) -> Iterator[Metric]:
    """Counter and histogram families from the hash's fields (pure)."""
    runs = CounterMetricFamily("berth_console_celery_tasks", "Celery tasks ended, by task name and final state.",
                               labels=("task", "state"))
    failures = CounterMetricFamily("berth_console_celery_task_failures",
                                   "Celery tasks that raised, by task name and exception class.",
                                   labels=("task", "exception"))
    duration = HistogramMetricFamily("berth_console_celery_task_duration_seconds",
                                     "Time a Celery task ran in a worker, by task name.", labels=("task",))
    buckets: dict[str, dict[str, float]] = defaultdict(dict)
    sums: dict[str, float] = {}
    for field, value in sorted(fields.items()):
        kind, _, rest = field.partition("|")
        if kind == "runs":
            task, _, state = rest.rpartition("|")
            runs.add_metric((task, state), float(value))
        elif kind == "failures":
            task, _, exception = rest.rpartition("|")
            failures.add_metric((task, exception), float(value))
        elif kind == "bucket":
            task, _, le = rest.rpartition("|")
            buckets[task][le] = float(value)
        elif kind == "sum":
            sums[rest] = float(value)
    for task, seen in sorted(buckets.items()):
        bounds = [_le(b) for b in (*BUCKETS, float("inf"))]
        duration.add_metric((task,), [(b, seen.get(b, 0.0)) for b in bounds], sums.get(task, 0.0))
    yield from (runs, failures, duration)


metrics.REGISTRY.register(CeleryTaskCollector())
