"""Sampling every running container of every endpoint into the stats history, and trimming it to an hour.

`sample_all()` is what the periodic Celery task runs every SAMPLE_INTERVAL
seconds. Per endpoint it lists the running containers and asks the engine for a
one-shot stats sample of each (in a few threads: a Docker engine can take a
moment per container), computes the point against the previous stored sample
(so CPU % and rates are averages over the interval), and writes all rows in one
query. An endpoint that does not answer is skipped and reported; it never stops
the others. `trim()` removes rows older than HISTORY.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import docker
import docker.errors
import requests

from console.endpoints.client import EngineError, endpoint_client
from console.endpoints.models import Endpoint
from console.metrics.models import HISTORY, SAMPLE_INTERVAL, StatsSample
from console.metrics.stats import Totals, point, totals

log = logging.getLogger("console.metrics")

PARALLEL = 8  # stats requests in flight per endpoint
PREVIOUS_WINDOW = 6 * SAMPLE_INTERVAL  # an older sample is too far back to compute rates from


@dataclass
class SampleReport:
    """What one run did: rows written per endpoint name, errors per endpoint name, rows trimmed."""

    written: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    trimmed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"written": self.written, "errors": self.errors, "trimmed": self.trimmed}


def sample_all(now: datetime | None = None) -> SampleReport:
    """Sample every endpoint, then trim; never raises for an unreachable engine."""
    report = SampleReport()
    for endpoint in Endpoint.objects.all():
        try:
            report.written[endpoint.name] = sample_endpoint(endpoint)
        except EngineError as exc:
            report.errors[endpoint.name] = exc.message
            log.warning("stats sampling skipped %s: %s", endpoint.name, exc.message)
    report.trimmed = trim(now)
    return report


def sample_endpoint(endpoint: Endpoint) -> int:
    """Store one sample per running container of `endpoint`; the number of rows written."""
    with endpoint_client(endpoint) as client:
        ids = [c["Id"] for c in client.api.containers(filters={"status": "running"})]
        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            raws = list(pool.map(lambda cid: _one_shot(client, cid), ids))
    previous = latest_totals(endpoint, ids)
    rows = [_row(endpoint, cid, raw, previous.get(cid)) for cid, raw in zip(ids, raws) if raw is not None]
    StatsSample.objects.bulk_create(rows)
    return len(rows)


def _one_shot(client: docker.DockerClient, cid: str) -> dict[str, Any] | None:
    """One stats sample without the engine's own wait; None when the container went away meanwhile."""
    try:
        return client.api.stats(cid, stream=False, one_shot=True)
    except (docker.errors.APIError, requests.RequestException) as exc:
        log.info("no stats for %s: %s", cid[:12], exc)
        return None


def _row(endpoint: Endpoint, cid: str, raw: dict[str, Any], previous: Totals | None) -> StatsSample:
    current = totals(raw, now=time.time())
    p = point(current, previous)
    return StatsSample(
        endpoint=endpoint, container_id=cid, taken_at=datetime.fromtimestamp(current.read, UTC),
        cpu_total=current.cpu_total, system_total=current.system_total,
        net_rx_total=current.net_rx, net_tx_total=current.net_tx,
        blk_read_total=current.blk_read, blk_write_total=current.blk_write,
        cpu=p.cpu, mem=p.mem, mem_limit=p.mem_limit, net_rx=p.net_rx, net_tx=p.net_tx,
        blk_read=p.blk_read, blk_write=p.blk_write, pids=p.pids,
    )


def latest_totals(endpoint: Endpoint, ids: list[str]) -> dict[str, Totals]:
    """The most recent stored counters of each container (within PREVIOUS_WINDOW), as Totals."""
    since = datetime.now(UTC) - timedelta(seconds=PREVIOUS_WINDOW)
    found: dict[str, Totals] = {}
    rows = (StatsSample.objects.filter(endpoint=endpoint, container_id__in=ids, taken_at__gte=since)
            .order_by("container_id", "-taken_at"))
    for row in rows:
        if row.container_id in found:
            continue
        found[row.container_id] = Totals(
            read=row.taken_at.timestamp(), cpu_total=row.cpu_total, system_total=row.system_total, online_cpus=0,
            pre_cpu_total=0, pre_system_total=0, mem_usage=row.mem, mem_limit=row.mem_limit,
            net_rx=row.net_rx_total, net_tx=row.net_tx_total, blk_read=row.blk_read_total,
            blk_write=row.blk_write_total, pids=row.pids,
        )
    return found


def trim(now: datetime | None = None) -> int:
    """Delete samples older than HISTORY; the number deleted."""
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=HISTORY)
    deleted, _ = StatsSample.objects.filter(taken_at__lt=cutoff).delete()
    return deleted


def history(endpoint: Endpoint, container_id: str, seconds: int = HISTORY) -> list[dict[str, Any]]:
    """The stored points of one container over the last `seconds` (at most HISTORY), oldest first."""
    since = datetime.now(UTC) - timedelta(seconds=min(max(seconds, 0), HISTORY))
    rows = StatsSample.objects.filter(endpoint=endpoint, container_id=container_id, taken_at__gte=since)
    return [row.as_point() for row in rows.order_by("taken_at")]
