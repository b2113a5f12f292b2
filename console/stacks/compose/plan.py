"""What `up` must do to make the engine match a project (pure): the convergence plan.

For each service, its existing containers (found by the com.docker.compose.project/service labels) are
compared with the desired ones by container number and config hash, as docker-compose does:

    no container with that number           → create
    its config-hash label differs            → recreate (remove the old one, create anew)
    same hash, not running                   → start
    same hash, running                       → keep
    number above the service's replicas      → remove (scale down)
Containers of the project whose service is no longer in the file are orphans → remove.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from console.stacks.compose.model import HASH_LABEL, NUMBER_LABEL, ONEOFF_LABEL, SERVICE_LABEL, Project

CREATE, RECREATE, START, KEEP, REMOVE = "create", "recreate", "start", "keep", "remove"


@dataclass(frozen=True)
class Existing:
    """A container of the project as the engine lists it."""

    id: str
    name: str
    service: str
    number: int
    config_hash: str
    state: str  # running, exited, created, …

    @classmethod
    def from_listing(cls, row: dict[str, Any]) -> Existing:
        labels = row.get("Labels") or {}
        try:
            number = int(labels.get(NUMBER_LABEL) or 0)
        except ValueError:
            number = 0
        name = ((row.get("Names") or ["/"])[0] or "/").lstrip("/")
        return cls(row["Id"], name, labels.get(SERVICE_LABEL, ""), number, labels.get(HASH_LABEL, ""),
                   str(row.get("State") or ""))


def is_service_container(row: dict[str, Any]) -> bool:
    """Not a one-off (`docker-compose run`) container."""
    return (row.get("Labels") or {}).get(ONEOFF_LABEL, "False") != "True"


@dataclass(frozen=True)
class Action:
    kind: str
    service: str
    number: int
    container: Existing | None = None


@dataclass
class Plan:
    """Actions per service in start order; `orphans` are removed after everything else is up."""

    services: dict[str, list[Action]] = field(default_factory=dict)
    orphans: list[Existing] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for actions in self.services.values() for a in actions if a.kind == kind)

    def summary(self) -> str:
        words = {CREATE: "to create", RECREATE: "to recreate", START: "to start", KEEP: "up to date", REMOVE: "to remove"}
        parts = [f"{self.count(k)} {w}" for k, w in words.items() if self.count(k)]
        if self.orphans:
            parts.append(f"{len(self.orphans)} orphan{'s' if len(self.orphans) != 1 else ''} to remove")
        return ", ".join(parts) or "nothing to do"


def plan_up(project: Project, existing: list[Existing], hashes: dict[str, str]) -> Plan:
    """The convergence plan; `hashes` is each service's freshly computed config hash."""
    plan = Plan()
    names = {s.name for s in project.services}
    for service in project.order():
        mine = sorted((c for c in existing if c.service == service.name), key=lambda c: c.number)
        by_number = {c.number: c for c in mine}
        actions: list[Action] = []
        for number in range(1, service.replicas + 1):
            found = by_number.get(number)
            if found is None:
                actions.append(Action(CREATE, service.name, number))
            elif found.config_hash != hashes[service.name]:
                actions.append(Action(RECREATE, service.name, number, found))
            elif found.state != "running":
                actions.append(Action(START, service.name, number, found))
            else:
                actions.append(Action(KEEP, service.name, number, found))
        extra = [c for c in mine if not 1 <= c.number <= service.replicas]
        actions.extend(Action(REMOVE, service.name, c.number, c) for c in extra)
        plan.services[service.name] = actions
    plan.orphans = [c for c in existing if c.service not in names]
    return plan
