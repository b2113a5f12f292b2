"""Which rules an engine event fires (pure: no database, no network).

The watcher feeds every container event of an endpoint to one `Matcher`, with
the endpoint's enabled rules as `RuleView`s, and gets back `Firing`s to send.

- unhealthy: a `health_status: unhealthy` event.
- died: a `die` event with a non-zero exitCode — unless the container was asked
  to stop (a `kill` event for it in the ASKED_TO_STOP seconds before), which is
  how `docker stop`/`kill` and the console's Stop look: a person did that.
- restart loop: `restart_count` die events of one container within
  `restart_window` minutes; it fires once, then counts afresh.

The console's own helper containers (label HELPER_LABEL) never fire anything.
Each Firing has a `key` that names the event (and the rule), so a replayed
event is recognised (Delivery.event_key is unique).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from console.volumes.helper import HELPER_LABEL

ASKED_TO_STOP = 30.0  # seconds: a die this soon after a kill was asked for
UNHEALTHY, DIED, RESTART_LOOP = "unhealthy", "died", "restart_loop"


@dataclass(frozen=True)
class RuleView:
    """What the matcher needs of a Rule (a snapshot: the watcher reloads rules now and then)."""

    id: int
    name: str
    kind: str
    labels: dict[str, str] = field(default_factory=dict)
    restart_count: int = 3
    restart_window: int = 5  # minutes


@dataclass(frozen=True)
class Firing:
    rule_id: int
    kind: str
    key: str
    container_id: str
    container_name: str
    image: str
    message: str
    time: float  # the event's time, seconds since the epoch
    details: dict[str, str] = field(default_factory=dict)


def event_time(event: dict[str, Any]) -> float:
    if event.get("timeNano"):
        return int(event["timeNano"]) / 1e9
    return float(event.get("time") or 0)


def event_key(event: dict[str, Any]) -> str:
    """Names one event: its time in ns, the actor and the action."""
    nano = event.get("timeNano") or int(float(event.get("time") or 0) * 1e9)
    return f"{nano}:{(event.get('Actor') or {}).get('ID', '')[:64]}:{event.get('Action', '')}"


def labels_match(wanted: dict[str, str], attributes: dict[str, str]) -> bool:
    """Every wanted label is there (with the wanted value, unless that is "")."""
    return all(k in attributes and (v == "" or attributes[k] == v) for k, v in wanted.items())


class Matcher:
    """Turns one endpoint's container events into firings; remembers recent kills and deaths per container."""

    def __init__(self, endpoint_name: str) -> None:
        self.endpoint_name = endpoint_name
        self.killed_at: dict[str, float] = {}
        self.deaths: dict[tuple[int, str], deque[float]] = {}

    def feed(self, event: dict[str, Any], rules: list[RuleView]) -> list[Firing]:
        if event.get("Type") != "container":
            return []
        actor = event.get("Actor") or {}
        attributes = actor.get("Attributes") or {}
        cid, action, when = str(actor.get("ID") or ""), str(event.get("Action") or ""), event_time(event)
        if HELPER_LABEL in attributes or not cid:
            return []
        if action == "kill":
            self.killed_at[cid] = when
            return []
        if action == "destroy":
            self.forget(cid)
            return []
        fired = []
        for rule in rules:
            if labels_match(rule.labels, attributes):
                firing = self._check(rule, event, cid, action, attributes, when)
                if firing is not None:
                    fired.append(firing)
        return fired

    def forget(self, cid: str) -> None:
        self.killed_at.pop(cid, None)
        for k in [k for k in self.deaths if k[1] == cid]:
            del self.deaths[k]

    def _check(self, rule: RuleView, event: dict[str, Any], cid: str, action: str, attributes: dict[str, str],
               when: float) -> Firing | None:
        name = attributes.get("name") or cid[:12]
        if rule.kind == UNHEALTHY and action == "health_status: unhealthy":
            return self._firing(rule, event, cid, attributes, f"{name} on {self.endpoint_name} became unhealthy")
        if action != "die":
            return None
        code = attributes.get("exitCode", "")
        if rule.kind == DIED and code not in ("", "0") and not self._asked_to_stop(cid, when):
            return self._firing(rule, event, cid, attributes, f"{name} on {self.endpoint_name} died with exit code {code}",
                                exit_code=code)
        if rule.kind == RESTART_LOOP:
            return self._count_death(rule, event, cid, attributes, when, name)
        return None

    def _asked_to_stop(self, cid: str, when: float) -> bool:
        killed = self.killed_at.get(cid)
        return killed is not None and 0 <= when - killed <= ASKED_TO_STOP

    def _count_death(self, rule: RuleView, event: dict[str, Any], cid: str, attributes: dict[str, str], when: float,
                     name: str) -> Firing | None:
        if self._asked_to_stop(cid, when):
            return None
        window = rule.restart_window * 60
        deaths = self.deaths.setdefault((rule.id, cid), deque())
        deaths.append(when)
        while deaths and when - deaths[0] > window:
            deaths.popleft()
        if len(deaths) < rule.restart_count:
            return None
        deaths.clear()
        message = f"{name} on {self.endpoint_name} died {rule.restart_count} times within {rule.restart_window} minutes"
        return self._firing(rule, event, cid, attributes, message, deaths=str(rule.restart_count))

    def _firing(self, rule: RuleView, event: dict[str, Any], cid: str, attributes: dict[str, str], message: str,
                **details: str) -> Firing:
        return Firing(rule_id=rule.id, kind=rule.kind, key=f"{rule.id}:{event_key(event)}"[:200], container_id=cid,
                      container_name=attributes.get("name") or cid[:12], image=attributes.get("image", ""),
                      message=message, time=event_time(event), details=details)
