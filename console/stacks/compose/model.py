"""The typed project model a compose file normalises into (pure data, frozen).

A `Project` is what the planner and the applier work from: every value already interpolated,
validated and put into one canonical shape (ports expanded from ranges, volumes split into
named / bind / anonymous, durations in nanoseconds, sizes in bytes, environment as a dict).
Names here are compose's (service "db", volume "data"); the engine names (`<project>_data`,
`<project>_db_1`) are made by `Project.network_name` / `volume_name` and console/stacks/compose/spec.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

COMPOSE_VERSION = "1.29.2"  # the docker-compose whose labels and names these follow
LABEL = "com.docker.compose"
PROJECT_LABEL, SERVICE_LABEL, NUMBER_LABEL = f"{LABEL}.project", f"{LABEL}.service", f"{LABEL}.container-number"
ONEOFF_LABEL, HASH_LABEL, VERSION_LABEL = f"{LABEL}.oneoff", f"{LABEL}.config-hash", f"{LABEL}.version"
WORKDIR_LABEL, FILES_LABEL = f"{LABEL}.project.working_dir", f"{LABEL}.project.config_files"
NETWORK_LABEL, VOLUME_LABEL = f"{LABEL}.network", f"{LABEL}.volume"
DEFAULT_NETWORK = "default"


def project_name(text: str) -> str:
    """docker-compose 1.29's normalisation: lower case, only [a-z0-9_-] kept (the others dropped)."""
    return re.sub(r"[^-_a-z0-9]", "", text.lower())


@dataclass(frozen=True)
class Port:
    """One published container port."""

    target: int
    protocol: str = "tcp"
    published: str = ""  # "8080" or a range "8080-8090" (the engine takes the first free); "": it picks one
    host_ip: str = ""


@dataclass(frozen=True)
class Mount:
    """A service's volume: kind "volume" (source = the compose volume's name), "bind" (source = a host
    path) or "anonymous" (no source); `tmpfs` mounts are kind "tmpfs"."""

    kind: str
    target: str
    source: str = ""
    read_only: bool = False


@dataclass(frozen=True)
class Healthcheck:
    """Docker's HealthConfig in compose's words; durations in nanoseconds (0: the engine's default)."""

    test: tuple[str, ...]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    retries: int = 0
    disabled: bool = False


@dataclass(frozen=True)
class Build:
    context: str
    dockerfile: str = "Dockerfile"
    args: tuple[tuple[str, str], ...] = ()
    target: str = ""


@dataclass(frozen=True)
class Dependency:
    service: str
    condition: str = "service_started"  # service_started | service_healthy | service_completed_successfully


@dataclass(frozen=True)
class Resources:
    """deploy.resources: limits become the engine's hard limits, reservations its soft ones."""

    cpus: float = 0.0  # limits.cpus → NanoCpus
    memory: int = 0  # limits.memory → Memory (bytes)
    pids: int = 0  # limits.pids → PidsLimit
    memory_reservation: int = 0  # reservations.memory → MemoryReservation


@dataclass(frozen=True)
class ServiceNetwork:
    name: str  # the compose network's key
    aliases: tuple[str, ...] = ()
    ipv4_address: str = ""


@dataclass(frozen=True)
class Service:
    name: str
    image: str
    build: Build | None = None
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    environment: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    ports: tuple[Port, ...] = ()
    expose: tuple[str, ...] = ()
    mounts: tuple[Mount, ...] = ()
    networks: tuple[ServiceNetwork, ...] = ()
    network_mode: str = ""
    depends_on: tuple[Dependency, ...] = ()
    healthcheck: Healthcheck | None = None
    restart: str = "no"
    replicas: int = 1
    resources: Resources = field(default_factory=Resources)
    profiles: tuple[str, ...] = ()
    working_dir: str = ""
    user: str = ""
    hostname: str = ""
    tty: bool = False
    stdin_open: bool = False
    privileged: bool = False
    read_only: bool = False
    init: bool | None = None
    stop_signal: str = ""
    stop_grace_period: int = 0  # seconds
    container_name: str = ""
    extra_hosts: tuple[str, ...] = ()
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    dns: tuple[str, ...] = ()
    shm_size: int = 0
    line: int | None = None  # where the service starts in the file (for messages)
    placement: str = ""  # the endpoint it asks for (x-berth-endpoint or the label berth.endpoint); "": the stack's
    placement_line: int | None = None  # where that wish is written (for placement problems)


@dataclass(frozen=True)
class Network:
    key: str
    name: str  # the engine's name
    driver: str = ""
    external: bool = False
    internal: bool = False
    labels: tuple[tuple[str, str], ...] = ()
    driver_opts: tuple[tuple[str, str], ...] = ()
    attachable: bool = False  # set for overlay networks joining services on several endpoints


@dataclass(frozen=True)
class Volume:
    key: str
    name: str  # the engine's name
    driver: str = ""
    external: bool = False
    labels: tuple[tuple[str, str], ...] = ()
    driver_opts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Project:
    """A whole compose project. `services` are in the file's order; `order()` gives start order."""

    name: str
    services: tuple[Service, ...]
    networks: tuple[Network, ...] = ()
    volumes: tuple[Volume, ...] = ()
    working_dir: str = ""
    config_files: tuple[str, ...] = ()

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def network(self, key: str) -> Network:
        return next(n for n in self.networks if n.key == key)

    def volume(self, key: str) -> Volume:
        return next(v for v in self.volumes if v.key == key)

    def order(self) -> list[Service]:
        """Services with every dependency before its dependants (the graph was checked acyclic on load)."""
        done: list[str] = []
        by_name = {s.name: s for s in self.services}

        def visit(name: str) -> None:
            if name in done or name not in by_name:
                return
            for dep in by_name[name].depends_on:
                visit(dep.service)
            done.append(name)

        for service in self.services:
            visit(service.name)
        return [by_name[n] for n in done]
