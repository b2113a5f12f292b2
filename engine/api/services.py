"""What the API layer needs from the engine: the services, bundled for route registration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.containers.execs import ExecService
from engine.containers.service import ContainerService
from engine.events import EventBus
from engine.images.service import ImageService
from engine.network.service import NetworkService
from engine.volumes.service import VolumeService


@dataclass
class Services:
    events: EventBus
    images: ImageService
    containers: ContainerService
    execs: ExecService
    networks: NetworkService
    volumes: VolumeService
    info: Any  # engine.daemon.Daemon: version and info figures
