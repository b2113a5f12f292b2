"""The engine's Prometheus metrics (official `prometheus_client`), served at GET /metrics.

Instruments live in one registry of their own (`REGISTRY`), so what /metrics shows
is exactly what is listed here plus the process collector (CPU, memory, open fds):

  berth_engine_api_requests_total{method,route,status}          counter
  berth_engine_api_request_duration_seconds{method,route,status} histogram, to the reply's head
  berth_engine_container_start_duration_seconds                 histogram, successful starts
  berth_engine_health_checks_total{result="success"|"failure"}  counter
  berth_engine_container_restarts_total{trigger="policy"|"manual"} counter
  berth_engine_events_total{type,action}                        counter
  berth_engine_containers{state}                                gauge, computed at scrape
  berth_engine_images                                           gauge, computed at scrape
  berth_engine_image_store_bytes                                gauge, computed at scrape
  berth_engine_info{version}                                    gauge, always 1

`route` is the route's template (`/containers/{id}/json`), never the raw path,
and `unmatched` for paths no route knows, so label sets stay few. An event's
action is cut at its first colon (`exec_start: sh` counts as `exec_start`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

UNMATCHED_ROUTE = "unmatched"

disable_created_metrics()  # no `*_created` series: they double what a scrape shows for little use
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)

API_REQUESTS = Counter(
    "berth_engine_api_requests", "Engine API requests answered, by method, route template and status.",
    ("method", "route", "status"), registry=REGISTRY)
API_REQUEST_SECONDS = Histogram(
    "berth_engine_api_request_duration_seconds",
    "Time from a request's headers to its reply's headers (a stream's body is not included).",
    ("method", "route", "status"), registry=REGISTRY,
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
CONTAINER_START_SECONDS = Histogram(
    "berth_engine_container_start_duration_seconds",
    "Time to start a container: rootfs, network, runtime spec, conmon and runc, until it runs.",
    registry=REGISTRY, buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10, 30))
HEALTH_CHECKS = Counter(
    "berth_engine_health_checks", "Health check probes run, by result.", ("result",), registry=REGISTRY)
CONTAINER_RESTARTS = Counter(
    "berth_engine_container_restarts",
    "Container restarts: by the restart policy after an exit, or asked for (docker restart).",
    ("trigger",), registry=REGISTRY)
EVENTS = Counter(
    "berth_engine_events", "Events published on the event bus, by type and action.", ("type", "action"),
    registry=REGISTRY)


# -- hooks for the services ------------------------------------------------------------------
def count_request(method: str, route: str, status: int, seconds: float) -> None:
    labels = (method, route or UNMATCHED_ROUTE, str(status))
    API_REQUESTS.labels(*labels).inc()
    API_REQUEST_SECONDS.labels(*labels).observe(seconds)


def observe_container_start(seconds: float) -> None:
    CONTAINER_START_SECONDS.observe(seconds)


def count_health_check(exit_code: int) -> None:
    HEALTH_CHECKS.labels("success" if exit_code == 0 else "failure").inc()


def count_restart(trigger: str) -> None:
    CONTAINER_RESTARTS.labels(trigger).inc()


def count_event(type: str, action: str) -> None:
    EVENTS.labels(type, action.split(":", 1)[0].strip()).inc()


# -- figures computed at scrape time ---------------------------------------------------------
class EngineCollector(Collector):
    """Gauges read from the engine's state when /metrics is scraped (no I/O but new layers' sizes)."""

    def __init__(self, version: str, all_states: Iterable[str], container_states: Callable[[], Iterable[str]],
                 image_count: Callable[[], int], layer_ids: Callable[[], Iterable[str]],
                 layer_size: Callable[[str], int | None]) -> None:
        self.version = version
        self.all_states = tuple(all_states)
        self.container_states = container_states
        self.image_count = image_count
        self.layer_ids = layer_ids
        self.layer_size = layer_size
        self._sizes: dict[str, int] = {}  # layers are immutable: each one's size is read once

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily("berth_engine_info", "The engine's version.", labels=("version",))
        info.add_metric((self.version,), 1)
        yield info
        states = GaugeMetricFamily("berth_engine_containers", "Containers by state.", labels=("state",))
        counts = dict.fromkeys(self.all_states, 0)
        for status in self.container_states():
            counts[status] = counts.get(status, 0) + 1
        for status, n in counts.items():
            states.add_metric((status,), n)
        yield states
        yield GaugeMetricFamily("berth_engine_images", "Images in the image store.", value=self.image_count())
        yield GaugeMetricFamily("berth_engine_image_store_bytes", "Unpacked size of every image layer held.",
                                value=self._store_bytes())

    def _store_bytes(self) -> int:
        current: dict[str, int] = {}
        for chain in self.layer_ids():
            size = self._sizes.get(chain)
            if size is None:
                size = self.layer_size(chain)  # None: removed since it was listed
            if size is not None:
                current[chain] = size
        self._sizes = current
        return sum(current.values())


def register_collector(collector: Collector) -> None:
    REGISTRY.register(collector)


def unregister_collector(collector: Collector) -> None:
    try:
        REGISTRY.unregister(collector)
    except KeyError:
        pass


def exposition(accept: str | None) -> tuple[bytes, str]:
    """The registry in the format the scraper asked for (Prometheus text, or OpenMetrics)."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(REGISTRY), content_type
