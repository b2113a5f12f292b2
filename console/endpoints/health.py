"""Endpoint health: does an engine answer, which engine is it, what it holds.

`probe()` asks one engine for its version, info and counts and never raises:
an engine that fails is reported with the reason in words (`EndpointStatus.error`).
`probe_all()` probes several endpoints in parallel, so one silent engine costs a
page at most PROBE_TIMEOUT, not PROBE_TIMEOUT per endpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import docker

from console.endpoints.client import EngineError, endpoint_client
from console.endpoints.models import Endpoint
from console.observe.context import in_this_context

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 5.0  # a page waits this long at most for a silent engine


@dataclass(frozen=True)
class EndpointStatus:
    """What one probe of an endpoint found. `error` is empty when the engine answered."""

    endpoint: Endpoint
    error: str = ""
    tls_error: bool = False  # the error is a failed TLS handshake (certificates), not a silent engine
    platform: str = ""
    version: str = ""
    api_version: str = ""
    os: str = ""
    arch: str = ""
    hostname: str = ""
    containers: int = 0
    containers_running: int = 0
    containers_paused: int = 0
    containers_stopped: int = 0
    images: int = 0
    volumes: int = 0
    networks: int = 0
    cpus: int = 0
    memory: int = 0  # bytes

    @property
    def up(self) -> bool:
        return not self.error

    @property
    def health(self) -> str:
        """"reachable", "tls-error" (it answers, but the certificates do not match) or "unreachable"."""
        if self.up:
            return "reachable"
        return "tls-error" if self.tls_error else "unreachable"

    @property
    def engine_name(self) -> str:
        """"Berth Engine" or "Docker Engine - Community": the engine's own name for itself."""
        return self.platform or "Engine"

    def as_dict(self) -> dict[str, Any]:
        """The status for the REST API (the endpoint itself by id)."""
        fields = ("error", "platform", "version", "api_version", "os", "arch", "hostname", "containers",
                  "containers_running", "containers_paused", "containers_stopped", "images", "volumes",
                  "networks", "cpus", "memory")
        return {"endpoint": self.endpoint.pk, "reachable": self.up, **{f: getattr(self, f) for f in fields}}


def probe(endpoint: Endpoint, timeout: float = PROBE_TIMEOUT) -> EndpointStatus:
    """Ask the endpoint's engine who it is and what it holds; failures are reported, not raised."""
    try:
        with endpoint_client(endpoint, timeout) as client:
            return status_from(endpoint, client)
    except EngineError as exc:
        log.warning("endpoint %s: %s", endpoint.name, exc.message)
        return EndpointStatus(endpoint, error=exc.message, tls_error=exc.tls)


def probe_all(endpoints: Iterable[Endpoint], timeout: float = PROBE_TIMEOUT) -> list[EndpointStatus]:
    """`probe()` for each endpoint, in parallel; results in the order given."""
    endpoints = list(endpoints)
    if not endpoints:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(endpoints)), thread_name_prefix="probe") as pool:
        return list(pool.map(in_this_context(lambda e: probe(e, timeout)), endpoints))  # keeps the request id


def status_from(endpoint: Endpoint, client: docker.DockerClient) -> EndpointStatus:
    """The status read through an open client (EngineError propagates)."""
    api = client.api
    version = api.version()
    info = api.info()
    volumes = (api.volumes() or {}).get("Volumes") or []
    networks = api.networks() or []
    return EndpointStatus(
        endpoint,
        platform=engine_platform(version),
        version=version.get("Version", "") or info.get("ServerVersion", ""),
        api_version=version.get("ApiVersion", ""),
        os=info.get("OperatingSystem", "") or version.get("Os", ""),
        arch=info.get("Architecture", "") or version.get("Arch", ""),
        hostname=info.get("Name", ""),
        containers=info.get("Containers", 0) or 0,
        containers_running=info.get("ContainersRunning", 0) or 0,
        containers_paused=info.get("ContainersPaused", 0) or 0,
        containers_stopped=info.get("ContainersStopped", 0) or 0,
        images=info.get("Images", 0) or 0,
        volumes=len(volumes),
        networks=len(networks),
        cpus=info.get("NCPU", 0) or 0,
        memory=info.get("MemTotal", 0) or 0,
    )


def engine_platform(version: dict[str, Any]) -> str:
    """The engine's name for itself from GET /version: Platform.Name ("Berth Engine", "Docker Engine -
    Community"), else its first component's ("Engine" is what Docker builds without a platform name say)."""
    name = (version.get("Platform") or {}).get("Name") or ""
    if name:
        return name
    components = version.get("Components") or []
    first = (components[0].get("Name") or "") if components and isinstance(components[0], dict) else ""
    return "Docker Engine" if first == "Engine" else first
