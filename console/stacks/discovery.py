"""What runs on an endpoint, seen through compose's labels: the projects (console stacks and "limited" ones
made elsewhere), and one project's services with their containers, state and health.

Only reads; errors come out as EngineError (console/endpoints/client.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from console.endpoints.client import EngineError, endpoint_client
from console.endpoints.models import Endpoint
from console.stacks.compose.model import (
    FILES_LABEL, NUMBER_LABEL, ONEOFF_LABEL, PROJECT_LABEL, SERVICE_LABEL, WORKDIR_LABEL,
)


@dataclass
class ContainerRow:
    id: str
    name: str
    service: str
    number: int
    state: str  # running, exited, …
    status: str  # the engine's words ("Up 2 minutes (healthy)")
    health: str  # healthy, unhealthy, starting, or ""
    image: str
    ports: list[str] = field(default_factory=list)
    endpoint_id: int = 0  # the endpoint it runs on (a stack's services may be on several)
    endpoint_name: str = ""

    @property
    def short_id(self) -> str:
        return self.id[:12]


@dataclass
class EngineProject:
    """A compose project as the engine's containers show it."""

    name: str
    containers: list[ContainerRow] = field(default_factory=list)
    working_dir: str = ""
    config_files: list[str] = field(default_factory=list)
    on_this_host: bool = False  # its engine runs here (a unix socket), so its label paths are this host's

    @property
    def services(self) -> list[str]:
        return sorted({c.service for c in self.containers})

    @property
    def running(self) -> int:
        return sum(1 for c in self.containers if c.state == "running")

    @property
    def state(self) -> str:
        """running (all up), partial, stopped."""
        if not self.containers or not self.running:
            return "stopped"
        return "running" if self.running == len(self.containers) else "partial"

    def compose_paths(self) -> list[Path]:
        """The compose files its labels name (config_files are relative to working_dir when not absolute)."""
        return [Path(self.working_dir, f) if self.working_dir else Path(f) for f in self.config_files if f]


def _health(status: str) -> str:
    for word in ("unhealthy", "healthy", "health: starting"):
        if f"({word})" in status:
            return "starting" if word == "health: starting" else word
    return ""


def _ports(row: dict) -> list[str]:
    out = []
    for p in row.get("Ports") or []:
        if p.get("PublicPort"):
            out.append(f"{p.get('PublicPort')}→{p.get('PrivatePort')}/{p.get('Type', 'tcp')}")
    return sorted(set(out))


def _row(row: dict, endpoint: Endpoint) -> ContainerRow:
    labels = row.get("Labels") or {}
    status = str(row.get("Status") or "")
    try:
        number = int(labels.get(NUMBER_LABEL) or 0)
    except ValueError:
        number = 0
    return ContainerRow(row["Id"], ((row.get("Names") or ["/"])[0]).lstrip("/"), labels.get(SERVICE_LABEL, ""), number,
                        str(row.get("State") or ""), status, _health(status), str(row.get("Image") or ""), _ports(row),
                        endpoint.pk, endpoint.name)


def projects(endpoint: Endpoint, name: str | None = None) -> dict[str, EngineProject]:
    """Every compose project on the endpoint (or only `name`), by project name, containers sorted."""
    label = PROJECT_LABEL if name is None else f"{PROJECT_LABEL}={name}"
    with endpoint_client(endpoint) as client:
        rows = client.api.containers(all=True, filters={"label": label})
    found: dict[str, EngineProject] = defaultdict(lambda: EngineProject(""))
    for row in rows:
        labels = row.get("Labels") or {}
        if labels.get(ONEOFF_LABEL) == "True":
            continue
        project = labels.get(PROJECT_LABEL, "")
        entry = found[project]
        entry.name = project
        entry.on_this_host = endpoint.url.startswith("unix://")
        entry.working_dir = entry.working_dir or labels.get(WORKDIR_LABEL, "")
        if not entry.config_files and labels.get(FILES_LABEL):
            entry.config_files = [f for f in labels[FILES_LABEL].split(",") if f]
        entry.containers.append(_row(row, endpoint))
    for entry in found.values():
        entry.containers.sort(key=lambda c: (c.service, c.number))
    return dict(found)


def spread_project(endpoints: list[Endpoint], name: str) -> tuple[EngineProject | None, list[str]]:
    """Project `name` as the containers on all of `endpoints` show it (None when none has any), and the
    messages of the endpoints that could not be asked (the others' containers are still listed)."""
    merged: EngineProject | None = None
    errors: list[str] = []
    for endpoint in endpoints:
        try:
            found = projects(endpoint, name).get(name)
        except EngineError as exc:
            errors.append(exc.message)
            continue
        if found is None:
            continue
        if merged is None:
            merged = found
        else:
            merged.containers.extend(found.containers)
            merged.working_dir = merged.working_dir or found.working_dir
    if merged is not None:
        merged.containers.sort(key=lambda c: (c.service, c.number))
    return merged, errors


COMPOSE_SUFFIXES = (".yml", ".yaml", ".json")
MAX_COMPOSE_BYTES = 512 * 1024


def readable_compose(project: EngineProject) -> tuple[str, str] | None:
    """(path, text) of the project's first compose file, when the console's host can read it.

    Labels are written by whoever made the containers, so only files that look like compose files
    (.yml, .yaml, .json, at most MAX_COMPOSE_BYTES) are read — not whatever path a label names — and
    only for an engine on this host: a remote engine's paths name files of another machine.
    """
    if not project.on_this_host:
        return None
    for path in project.compose_paths():
        try:
            if path.suffix not in COMPOSE_SUFFIXES or not path.is_file() or path.stat().st_size > MAX_COMPOSE_BYTES:
                continue
            return str(path), path.read_text()
        except (OSError, UnicodeDecodeError):
            continue
    return None
