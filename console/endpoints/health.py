"""Endpoint health: does an engine answer, which engine is it, how many containers and images it has."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from console.endpoints.client import EngineError, connect
from console.endpoints.models import Endpoint

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 5.0  # a page waits this long at most for a silent engine


@dataclass(frozen=True)
class EndpointStatus:
    """What one probe of an endpoint found. `error` is empty when the engine answered."""

    endpoint: Endpoint
    error: str = ""
    platform: str = ""
    version: str = ""
    api_version: str = ""
    containers: int = 0
    containers_running: int = 0
    images: int = 0

    @property
    def up(self) -> bool:
        return not self.error


def probe(endpoint: Endpoint, timeout: float = PROBE_TIMEOUT) -> EndpointStatus:
    """Ask the endpoint's engine for its version and counts; an engine that fails is reported, not raised."""
    try:
        with connect(endpoint.url, timeout) as client:
            version = client.version()
            info = client.info()
    except EngineError as exc:
        log.warning("endpoint %s: %s", endpoint.name, exc.message)
        return EndpointStatus(endpoint, error=exc.message)
    return EndpointStatus(
        endpoint,
        platform=(version.get("Platform") or {}).get("Name", ""),
        version=version.get("Version", ""),
        api_version=version.get("ApiVersion", ""),
        containers=info.get("Containers", 0),
        containers_running=info.get("ContainersRunning", 0),
        images=info.get("Images", 0),
    )
