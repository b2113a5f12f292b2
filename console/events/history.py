"""An endpoint's recent engine events, filtered: what the events page shows before the live feed takes over.

`EventQuery` is the page's (and the API's) filter — type, action, text, how far
back, whether to show the console's own helper containers. `history()` asks
the engine for `GET /events?since=…&until=now` (the engine's filters for type
and action, the rest here) and returns the newest MAX_EVENTS, oldest first.
`matches()` is the one definition of the filter; static/js/events.js applies
the same rules to live events.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from console.endpoints.client import endpoint_client
from console.endpoints.models import Endpoint
from console.volumes.helper import HELPER_LABEL

TYPES = ("container", "image", "network", "volume", "daemon")
SINCE = {"15m": 15 * 60, "1h": 3600, "6h": 6 * 3600, "24h": 24 * 3600}
SINCE_LABELS = {"15m": "Last 15 minutes", "1h": "Last hour", "6h": "Last 6 hours", "24h": "Last 24 hours"}
DEFAULT_SINCE = "1h"
MAX_EVENTS = 500
HISTORY_TIMEOUT = 30.0


@dataclass(frozen=True)
class EventQuery:
    type: str = ""
    action: str = ""
    text: str = ""
    since: str = DEFAULT_SINCE
    helpers: bool = False

    @classmethod
    def from_params(cls, params: Any) -> EventQuery:
        """From request.GET (or any mapping): ?type=&action=&q=&since=&helpers=1; unknown values fall back to defaults."""
        kind = params.get("type", "")
        since = params.get("since", DEFAULT_SINCE)
        return cls(type=kind if kind in TYPES else "", action=(params.get("action") or "").strip()[:64],
                   text=(params.get("q") or "").strip()[:200], since=since if since in SINCE else DEFAULT_SINCE,
                   helpers=params.get("helpers") in ("1", "true", "on"))

    def engine_filters(self) -> dict[str, list[str]]:
        filters: dict[str, list[str]] = {}
        if self.type:
            filters["type"] = [self.type]
        return filters


def actor_name(event: dict[str, Any]) -> str:
    attributes = (event.get("Actor") or {}).get("Attributes") or {}
    return str(attributes.get("name") or "")


def matches(event: dict[str, Any], query: EventQuery) -> bool:
    """Whether `event` (Docker's event JSON) passes the filter.

    type: equal. action: equal, or the part before ":" ("health_status" matches
    "health_status: unhealthy"). text: in the actor's name, ID, image, or an
    attribute value, case-insensitively. Helpers (label HELPER_LABEL) only when asked.
    """
    actor = event.get("Actor") or {}
    attributes = actor.get("Attributes") or {}
    if not query.helpers and HELPER_LABEL in attributes:
        return False
    if query.type and event.get("Type") != query.type:
        return False
    action = str(event.get("Action") or "")
    if query.action and action != query.action and action.split(":", 1)[0] != query.action:
        return False
    if query.text:
        needle = query.text.lower()
        haystack = [str(actor.get("ID") or ""), *(str(v) for v in attributes.values())]
        if not any(needle in h.lower() for h in haystack):
            return False
    return True


def history(endpoint: Endpoint, query: EventQuery, now: float | None = None) -> list[dict[str, Any]]:
    """The engine's events of the query's period that match it, oldest first, at most MAX_EVENTS (the newest).

    Raises EngineError. `now` is for tests.
    """
    now = now if now is not None else time.time()
    until = int(now) + 1  # whole seconds: the events of the current second too
    since = int(now) - SINCE[query.since]
    found: list[dict[str, Any]] = []
    with endpoint_client(endpoint, timeout=HISTORY_TIMEOUT) as client:
        for event in client.api.events(since=since, until=until, filters=query.engine_filters(), decode=True):
            if matches(event, query):
                found.append(event)
                if len(found) > 2 * MAX_EVENTS:
                    del found[:MAX_EVENTS]
    return found[-MAX_EVENTS:]
