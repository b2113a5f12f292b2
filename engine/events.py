"""The event bus behind GET /events.

Services `publish` what happened (type, action, actor id, attributes); the bus
stamps the time, keeps the most recent events for `--since` queries (as Docker
keeps the last 256 in memory) and fans each event out to subscribers. A slow
subscriber never blocks the engine: its queue is bounded and it is dropped when
full.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.observe.metrics import count_event

HISTORY = 1024
QUEUE_LIMIT = 4096


@dataclass(frozen=True)
class Event:
    type: str
    action: str
    actor_id: str
    attributes: dict[str, str]
    time_ns: int
    scope: str = "local"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.type in ("container", "image"):
            out["status"] = self.action
            out["id"] = self.actor_id
            if self.type == "container" and "image" in self.attributes:
                out["from"] = self.attributes["image"]
        out.update({
            "Type": self.type,
            "Action": self.action,
            "Actor": {"ID": self.actor_id, "Attributes": self.attributes},
            "scope": self.scope,
            "time": self.time_ns // 1_000_000_000,
            "timeNano": self.time_ns,
        })
        return out


@dataclass(eq=False)
class Subscription:
    queue: asyncio.Queue[Event | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    accepts: Callable[[Event], bool] = lambda e: True


class EventBus:
    def __init__(self) -> None:
        self.recent: deque[Event] = deque(maxlen=HISTORY)
        self.subscribers: set[Subscription] = set()
        self._last_ns = 0

    def publish(self, type: str, action: str, actor_id: str, attributes: dict[str, str] | None = None) -> Event:
        ns = time.time_ns()
        if ns <= self._last_ns:
            ns = self._last_ns + 1  # strictly increasing, so since/until are unambiguous
        self._last_ns = ns
        event = Event(type, action, actor_id, dict(attributes or {}), ns)
        self.recent.append(event)
        count_event(type, action)
        for sub in list(self.subscribers):
            if not sub.accepts(event):
                continue
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                self.subscribers.discard(sub)
                sub.queue = asyncio.Queue(1)
                sub.queue.put_nowait(None)
        return event

    def subscribe(self, accepts: Callable[[Event], bool]) -> Subscription:
        sub = Subscription(accepts=accepts)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self.subscribers.discard(sub)

    def since(self, since_ns: int, accepts: Callable[[Event], bool]) -> list[Event]:
        return [e for e in self.recent if e.time_ns >= since_ns and accepts(e)]
