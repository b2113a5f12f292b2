"""What the dashboard shows for one endpoint: the engine's status plus container health, image sizes
and the engine's recent events.

`summarize()` reads everything through one client and never raises: an engine that
fails yields a `Dashboard` whose status carries the error. `describe_event()` turns a
Docker event (the JSON of GET /events) into the short line the dashboard lists; the
page's script does the same for events that arrive over the websocket.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import docker

from console.endpoints.client import EngineError, endpoint_client
from console.endpoints.health import PROBE_TIMEOUT, EndpointStatus, status_from
from console.endpoints.models import Endpoint

log = logging.getLogger(__name__)

RECENT_EVENTS = 12  # how many events the dashboard lists
EVENTS_WINDOW = 3600  # seconds of history read when the page loads
# Event types whose arrival changes the dashboard's counts.
COUNTED_TYPES = frozenset({"container", "image", "volume", "network"})


@dataclass(frozen=True)
class EventLine:
    """One engine event as the dashboard lists it."""

    time: datetime
    type: str
    action: str
    name: str


@dataclass(frozen=True)
class Dashboard:
    """The endpoint's status and the extras only the dashboard needs."""

    status: EndpointStatus
    healthy: int = 0
    unhealthy: int = 0
    starting: int = 0
    image_bytes: int = 0
    events: list[EventLine] = field(default_factory=list)


def summarize(endpoint: Endpoint, timeout: float = PROBE_TIMEOUT, with_events: bool = True) -> Dashboard:
    """Everything the dashboard shows; an unreachable engine gives a Dashboard whose status has the error."""
    try:
        with endpoint_client(endpoint, timeout) as client:
            status = status_from(endpoint, client)
            health = count_health(client.api.containers(all=True))
            image_bytes = sum(i.get("Size", 0) or 0 for i in client.api.images())
            events = recent_events(client) if with_events else []
    except EngineError as exc:
        log.warning("endpoint %s: %s", endpoint.name, exc.message)
        return Dashboard(EndpointStatus(endpoint, error=exc.message, tls_error=exc.tls))
    return Dashboard(status, image_bytes=image_bytes, events=events, **health)


def count_health(containers: list[dict[str, Any]]) -> dict[str, int]:
    """Healthy / unhealthy / starting counts from `docker ps`-style rows (their Status text)."""
    counts = {"healthy": 0, "unhealthy": 0, "starting": 0}
    for c in containers:
        text = c.get("Status", "") or ""
        if "(unhealthy)" in text:
            counts["unhealthy"] += 1
        elif "(healthy)" in text:
            counts["healthy"] += 1
        elif "(health: starting)" in text:
            counts["starting"] += 1
    return counts


def recent_events(client: docker.DockerClient, limit: int = RECENT_EVENTS) -> list[EventLine]:
    """The engine's last `limit` events of the past hour, newest first."""
    now = int(time.time())
    stream = client.api.events(since=now - EVENTS_WINDOW, until=now + 1, decode=True)  # this second's too
    try:
        lines = [describe_event(e) for e in stream]
    finally:
        stream.close()
    return [line for line in reversed(lines) if line is not None][:limit]


def describe_event(event: dict[str, Any]) -> EventLine | None:
    """A Docker event as a line; None for events without a type (which the dashboard skips)."""
    kind = event.get("Type") or ""
    if not kind:
        return None
    actor = event.get("Actor") or {}
    attrs = actor.get("Attributes") or {}
    ident = actor.get("ID") or ""
    name = attrs.get("name") or (ident if kind == "volume" else ident[:12])  # a volume's ID is its name
    nanos = event.get("timeNano") or (event.get("time") or 0) * 1_000_000_000
    when = datetime.fromtimestamp(nanos / 1e9, tz=timezone.utc)
    return EventLine(time=when, type=kind, action=event.get("Action") or event.get("status") or "", name=name)
