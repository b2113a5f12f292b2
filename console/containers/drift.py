"""Snowflakes: running containers whose files were changed outside their image, known without waiting.

Asking an engine for 200 containers' changes takes too long for the containers
list (which must answer in well under 150 ms), so the counts are computed in
the background: `refresh_all` — the periodic task `observe.refresh_drift`
(console/observe/tasks.py, every DRIFT_INTERVAL seconds) — asks each endpoint
for its running containers' changes and replaces that endpoint's record in
Redis (one hash per endpoint, a field per container id). The list reads the
record with one HGETALL (`load`) and marks a running row that has changes.

A record entry is the container's id, the counts, and when they were taken; it
is dropped when the container no longer runs (the next refresh replaces the
whole hash) and the hash expires if refreshes stop. With Redis away the list
shows no marks rather than failing.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import docker.errors
import redis
from django.conf import settings

from console.containers.changes import ChangeCounts, count, parse_changes
from console.endpoints.client import EngineError, endpoint_client
from console.endpoints.models import Endpoint
from console.observe import redis_conn

log = logging.getLogger(__name__)

KEY_PREFIX = "berth:drift:"


@dataclass(frozen=True)
class Drift:
    """One running container's change counts as of `checked_at` (epoch seconds)."""

    counts: ChangeCounts
    checked_at: float

    @property
    def total(self) -> int:
        return self.counts.total

    @property
    def snowflake(self) -> bool:
        return self.counts.total > 0

    @property
    def checked(self) -> datetime:
        return datetime.fromtimestamp(self.checked_at, tz=UTC)

    @property
    def summary(self) -> str:
        """"3 files changed outside the image: 2 added, 1 changed, 0 deleted" — the badge's tooltip."""
        c = self.counts
        files = "file" if c.total == 1 else "files"
        return f"{c.total} {files} changed outside the image: {c.added} added, {c.changed} changed, {c.deleted} deleted"

    def to_json(self) -> str:
        c = self.counts
        return json.dumps({"a": c.added, "c": c.changed, "d": c.deleted, "at": round(self.checked_at, 3)})

    @classmethod
    def from_json(cls, text: str) -> Drift:
        data = json.loads(text)
        return cls(ChangeCounts(int(data["a"]), int(data["c"]), int(data["d"])), float(data["at"]))


def key(endpoint_id: int) -> str:
    return f"{KEY_PREFIX}{endpoint_id}"


def interval() -> int:
    return int(getattr(settings, "BERTH_DRIFT_INTERVAL", 30))


def load(endpoint_id: int) -> dict[str, Drift]:
    """The endpoint's last counts by full container id; {} when none are known or Redis does not answer."""
    try:
        raw: dict[str, str] = redis_conn.client().hgetall(key(endpoint_id))  # type: ignore[assignment]
    except redis.RedisError as exc:
        log.warning("drift counts not available: %s", exc)
        return {}
    out = {}
    for cid, text in raw.items():
        try:
            out[cid] = Drift.from_json(text)
        except (ValueError, KeyError, TypeError):
            continue
    return out


def save(endpoint_id: int, found: dict[str, Drift]) -> None:
    """Replace the endpoint's record with `found` (atomically), to expire after ten missed refreshes."""
    pipe = redis_conn.client().pipeline(transaction=True)
    pipe.delete(key(endpoint_id))
    if found:
        pipe.hset(key(endpoint_id), mapping={cid: d.to_json() for cid, d in found.items()})
        pipe.expire(key(endpoint_id), interval() * 10)
    pipe.execute()


def measure(endpoint: Endpoint) -> dict[str, Drift]:
    """The change counts of every running container of `endpoint` (EngineError if it cannot be asked).

    A container that goes away between the list and its diff is skipped.
    """
    found: dict[str, Drift] = {}
    with endpoint_client(endpoint) as client:
        api = client.api
        for summary in api.containers(filters={"status": "running"}):
            cid = summary["Id"]
            try:
                changes = parse_changes(api.diff(cid))
            except docker.errors.APIError as exc:  # gone meanwhile (404), or the engine refused this one
                log.debug("no changes for %s: %s", cid[:12], exc)
                continue
            found[cid] = Drift(count(changes), time.time())
    return found


def refresh(endpoint: Endpoint) -> int:
    """Measure and record one endpoint; how many of its running containers are snowflakes."""
    found = measure(endpoint)
    save(endpoint.pk, found)
    return sum(1 for d in found.values() if d.snowflake)


def refresh_all(endpoint_ids: list[int] | None = None) -> dict[str, Any]:
    """Refresh every endpoint (or those in `endpoint_ids`); per endpoint name: snowflakes found, or the error."""
    endpoints = Endpoint.objects.all() if endpoint_ids is None else Endpoint.objects.filter(pk__in=endpoint_ids)
    out: dict[str, Any] = {}
    for endpoint in endpoints:
        try:
            out[endpoint.name] = refresh(endpoint)
        except EngineError as exc:
            out[endpoint.name] = exc.message  # unreachable: keep the last counts until they expire
        except redis.RedisError as exc:
            out[endpoint.name] = f"not recorded: {exc}"
    return out
