"""A service → what the engine is asked for (pure): the container's name, its create body (Docker Engine
API 1.41 `POST /containers/create` JSON), the networks it joins after creation, and its config hash.

The config hash (label com.docker.compose.config-hash, as docker-compose sets it) is a sha256 over the
service's canonical configuration, the image ID it resolved to, and the engine names of its networks and
volumes; a container whose label differs from the freshly computed hash is out of date and recreated.
Replicas and the service's line in the file are not part of it (scaling and moving text recreate nothing).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from console.stacks.compose.model import (
    COMPOSE_VERSION, FILES_LABEL, HASH_LABEL, NUMBER_LABEL, ONEOFF_LABEL, PROJECT_LABEL, SERVICE_LABEL, VERSION_LABEL,
    WORKDIR_LABEL, Project, Service,
)


@dataclass(frozen=True)
class ContainerPlan:
    """Everything to create one container of a service; `connect` lists (network name, endpoint config)
    to attach after creation (API 1.41 takes one network in the create call)."""

    name: str
    body: dict[str, Any]
    connect: tuple[tuple[str, dict[str, Any]], ...]


def container_name(project: Project, service: Service, number: int) -> str:
    """docker-compose 1.29's name: `<project>_<service>_<n>` (or the service's container_name)."""
    return service.container_name or f"{project.name}_{service.name}_{number}"


def config_hash(project: Project, service: Service, image_id: str) -> str:
    config = asdict(service)
    for key in ("line", "replicas", "profiles", "placement", "placement_line"):  # not the container's config
        config.pop(key, None)
    config["image_id"] = image_id
    config["networks_engine"] = [project.network(n.name).name for n in service.networks]
    config["volumes_engine"] = [project.volume(m.source).name for m in service.mounts if m.kind == "volume"]
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def compose_labels(project: Project, service: Service, number: int, digest: str) -> dict[str, str]:
    return {**dict(service.labels), PROJECT_LABEL: project.name, SERVICE_LABEL: service.name, NUMBER_LABEL: str(number),
            ONEOFF_LABEL: "False", HASH_LABEL: digest, VERSION_LABEL: COMPOSE_VERSION,
            WORKDIR_LABEL: project.working_dir or "", FILES_LABEL: ",".join(project.config_files)}


def _restart(policy: str) -> dict[str, Any]:
    name, _, count = policy.partition(":")
    return {"Name": "" if name == "no" else name, "MaximumRetryCount": int(count or 0)}


def _bind_source(project: Project, source: str) -> str:
    if source.startswith("/") or not project.working_dir:
        return source
    if source.startswith("~"):
        return source
    return f"{project.working_dir.rstrip('/')}/{source.removeprefix('./')}".rstrip("/") or "/"


def _mounts(project: Project, service: Service) -> tuple[list[str], dict[str, dict], dict[str, str]]:
    """(Binds, Volumes for anonymous ones, Tmpfs) as docker-compose 1.29 sends them."""
    binds, anonymous, tmpfs = [], {}, {}
    for m in service.mounts:
        mode = ":ro" if m.read_only else ":rw"
        if m.kind == "volume":
            binds.append(f"{project.volume(m.source).name}:{m.target}{mode}")
        elif m.kind == "bind":
            binds.append(f"{_bind_source(project, m.source)}:{m.target}{mode}")
        elif m.kind == "tmpfs":
            tmpfs[m.target] = ""
        else:
            anonymous[m.target] = {}
    return binds, anonymous, tmpfs


def _ports(service: Service) -> tuple[dict[str, dict], dict[str, list[dict[str, str]]]]:
    exposed: dict[str, dict] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for e in service.expose:
        key = e if "/" in e else f"{e}/tcp"
        exposed[key] = {}
    for p in service.ports:
        key = f"{p.target}/{p.protocol}"
        exposed[key] = {}
        bindings.setdefault(key, []).append({"HostIp": p.host_ip, "HostPort": p.published})
    return exposed, bindings


def _health(service: Service) -> dict[str, Any] | None:
    h = service.healthcheck
    if h is None:
        return None
    if h.disabled:
        return {"Test": ["NONE"]}
    return {"Test": list(h.test), "Interval": h.interval, "Timeout": h.timeout, "StartPeriod": h.start_period,
            "Retries": h.retries}


def _host_config(project: Project, service: Service) -> dict[str, Any]:
    binds, _, tmpfs = _mounts(project, service)
    _, bindings = _ports(service)
    r = service.resources
    config: dict[str, Any] = {
        "Binds": binds, "PortBindings": bindings, "RestartPolicy": _restart(service.restart),
        "NetworkMode": service.network_mode or (project.network(service.networks[0].name).name if service.networks else
                                                "default"),
        "Privileged": service.privileged, "ReadonlyRootfs": service.read_only, "ExtraHosts": list(service.extra_hosts),
        "CapAdd": list(service.cap_add), "CapDrop": list(service.cap_drop), "Dns": list(service.dns),
    }
    optional = {"NanoCpus": int(r.cpus * 1e9), "Memory": r.memory, "PidsLimit": r.pids,
                "MemoryReservation": r.memory_reservation, "ShmSize": service.shm_size, "Tmpfs": tmpfs}
    config.update({k: v for k, v in optional.items() if v})
    if service.init is not None:
        config["Init"] = bool(service.init)
    return config


def _endpoint_config(service: Service, index: int) -> dict[str, Any]:
    net = service.networks[index]
    config: dict[str, Any] = {"Aliases": list(dict.fromkeys([service.name, *net.aliases]))}
    if net.ipv4_address:
        config["IPAMConfig"] = {"IPv4Address": net.ipv4_address}
    return config


def container_plan(project: Project, service: Service, number: int, image_id: str) -> ContainerPlan:
    """The name, create body and later network connections of container `number` of `service`."""
    digest = config_hash(project, service, image_id)
    exposed, _ = _ports(service)
    _, anonymous, _ = _mounts(project, service)
    body: dict[str, Any] = {
        "Image": service.image, "Env": [f"{k}={v}" for k, v in service.environment],
        "Labels": compose_labels(project, service, number, digest), "ExposedPorts": exposed, "Volumes": anonymous,
        "Tty": service.tty, "OpenStdin": service.stdin_open, "AttachStdin": False,
        "HostConfig": _host_config(project, service),
    }
    optional = {"Cmd": list(service.command) if service.command is not None else None,
                "Entrypoint": list(service.entrypoint) if service.entrypoint is not None else None,
                "Healthcheck": _health(service), "WorkingDir": service.working_dir, "User": service.user,
                "Hostname": service.hostname, "StopSignal": service.stop_signal,
                "StopTimeout": service.stop_grace_period or None}
    body.update({k: v for k, v in optional.items() if v is not None and v != ""})
    connect: list[tuple[str, dict[str, Any]]] = []
    if service.networks and not service.network_mode:
        first = project.network(service.networks[0].name).name
        body["NetworkingConfig"] = {"EndpointsConfig": {first: _endpoint_config(service, 0)}}
        connect = [(project.network(n.name).name, _endpoint_config(service, i))
                   for i, n in enumerate(service.networks) if i > 0]
    return ContainerPlan(container_name(project, service, number), body, tuple(connect))
