"""What the console does to volumes: list (with who uses them), sizes, inspect, create, remove, prune.

Pages and the REST API both call these, so they behave alike and every change
is audited here (console.audit.log.record). `rows()` is pure: volumes from
`GET /volumes` joined with `GET /containers/json?all=1` (their mounts). Sizes
come separately from `GET /system/df`, which walks every volume and can be
slow, so the list page loads them after it shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

from django.utils.dateparse import parse_datetime

from console.accounts.ownership import forget, record_owner
from console.accounts.policy import PolicyViolation, check_volume_options
from console.audit.log import record
from console.audit.models import Activity
from console.endpoints.client import EngineError, endpoint_client
from console.endpoints.models import Endpoint
from console.volumes import transfer
from console.volumes.helper import HELPER_LABEL

SIZE_TIMEOUT = 60.0  # /system/df measures every volume


@dataclass(frozen=True)
class User:
    """A container that mounts a volume."""

    id: str
    name: str
    state: str
    destination: str
    read_only: bool


@dataclass(frozen=True)
class VolumeRow:
    name: str
    driver: str
    mountpoint: str
    created: datetime | None
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    used_by: tuple[User, ...] = ()

    @property
    def in_use(self) -> bool:
        return bool(self.used_by)


def _users(containers: list[dict[str, Any]]) -> dict[str, list[User]]:
    """Volume name → the containers (helpers left out) that mount it."""
    users: dict[str, list[User]] = {}
    for c in containers:
        if HELPER_LABEL in (c.get("Labels") or {}):
            continue
        name = ((c.get("Names") or [""])[0] or c["Id"][:12]).lstrip("/")
        for m in c.get("Mounts") or []:
            if m.get("Type") == "volume" and m.get("Name"):
                users.setdefault(m["Name"], []).append(
                    User(c["Id"], name, c.get("State", ""), m.get("Destination", ""), not m.get("RW", True)))
    return users


def row(volume: dict[str, Any], users: list[User]) -> VolumeRow:
    return VolumeRow(name=volume["Name"], driver=volume.get("Driver") or "local", mountpoint=volume.get("Mountpoint") or "",
                     created=parse_datetime(volume.get("CreatedAt") or "") if volume.get("CreatedAt") else None,
                     labels=volume.get("Labels") or {}, options=volume.get("Options") or {},
                     used_by=tuple(sorted(users, key=lambda u: u.name)))


def rows(volumes: list[dict[str, Any]], containers: list[dict[str, Any]]) -> list[VolumeRow]:
    """Volumes with their users, by name (pure)."""
    users = _users(containers)
    return sorted((row(v, users.get(v["Name"], [])) for v in volumes), key=lambda r: r.name.lower())


def list_volumes(endpoint: Endpoint) -> list[VolumeRow]:
    """Every volume of the endpoint (raises EngineError)."""
    with endpoint_client(endpoint) as client:
        volumes = client.api.volumes().get("Volumes") or []
        containers = client.api.containers(all=True)
    return rows(volumes, containers)


def get_volume(endpoint: Endpoint, name: str) -> VolumeRow:
    """One volume (EngineError 404 when there is none)."""
    with endpoint_client(endpoint) as client:
        volume = client.api.inspect_volume(name)
        containers = client.api.containers(all=True, filters={"volume": name})
    return row(volume, _users(containers).get(name, []))


def sizes(endpoint: Endpoint) -> dict[str, int]:
    """Volume name → bytes used, as the engine measures them (-1: it did not say). Raises EngineError."""
    with endpoint_client(endpoint, timeout=SIZE_TIMEOUT) as client:
        usage = client.api.df().get("Volumes") or []
    return {v["Name"]: int((v.get("UsageData") or {}).get("Size", -1)) for v in usage}


def exists(endpoint: Endpoint, name: str) -> bool:
    try:
        with endpoint_client(endpoint) as client:
            client.api.inspect_volume(name)
    except EngineError as exc:
        if exc.status == 404:
            return False
        raise
    return True


def create_volume(request: Any, endpoint: Endpoint, name: str, driver: str = "local",
                  options: dict[str, str] | None = None, labels: dict[str, str] | None = None) -> str:
    """Create a volume; its name (the engine picks one when `name` is empty). Audited; raises EngineError."""
    details = {"driver": driver, "options": options or {}, "labels": labels or {}}
    try:  # o=bind is a bind mount of a host path: the endpoint's security settings (console/accounts/policy.py)
        check_volume_options(getattr(request, "user", None), endpoint, driver or "local", options or {})
    except PolicyViolation as exc:
        record(request, "volume.create", name, Activity.DENIED, exc.message, endpoint, **details)
        raise EngineError(exc.message, 403) from None
    try:
        with endpoint_client(endpoint) as client:
            made = client.api.create_volume(name or None, driver=driver, driver_opts=options or None, labels=labels or None)
    except EngineError as exc:
        record(request, "volume.create", name, Activity.FAILURE, exc.message, endpoint, **details)
        raise
    record(request, "volume.create", made["Name"], Activity.SUCCESS, "", endpoint, **details)
    record_owner(getattr(request, "user", None), endpoint, "volume", str(made["Name"]), str(made["Name"]))
    return str(made["Name"])


def remove_volume(request: Any, endpoint: Endpoint, name: str, force: bool = False) -> None:
    """Remove a volume (the engine refuses one in use: 409). Audited; raises EngineError."""
    try:
        with endpoint_client(endpoint, timeout=30) as client:
            client.api.remove_volume(name, force=force)
    except EngineError as exc:
        record(request, "volume.remove", name, Activity.FAILURE, exc.message, endpoint, force=force)
        raise
    record(request, "volume.remove", name, Activity.SUCCESS, "", endpoint, force=force)
    forget(endpoint, "volume", name)


def prune_volumes(request: Any, endpoint: Endpoint) -> tuple[list[str], int]:
    """Remove every volume no container uses, named ones too; (names removed, bytes reclaimed). Audited."""
    try:
        with endpoint_client(endpoint, timeout=120) as client:
            result = client.api.prune_volumes(filters={"all": "true"})
    except EngineError as exc:
        record(request, "volume.prune", "volumes", Activity.FAILURE, exc.message, endpoint)
        raise
    removed = list(result.get("VolumesDeleted") or [])
    reclaimed = int(result.get("SpaceReclaimed") or 0)
    record(request, "volume.prune", "volumes", Activity.SUCCESS, f"removed {len(removed)}", endpoint,
           removed=removed, reclaimed=reclaimed)
    return removed, reclaimed


def import_archive(request: Any, endpoint: Endpoint, name: str, archive: BinaryIO) -> transfer.Imported:
    """Check the tar, make the volume when it does not exist, extract the tar into it; audited. Raises EngineError.

    For uploads (seekable): a bad archive is refused before anything is made.
    """
    size = getattr(archive, "size", None)
    try:
        transfer.check_archive(archive)
        if not exists(endpoint, name):
            create_volume(request, endpoint, name)
        done = transfer.import_volume(endpoint, name, archive, total=size, checked=True)
    except EngineError as exc:
        record(request, "volume.import", name, Activity.FAILURE, exc.message, endpoint, size=size)
        raise
    record(request, "volume.import", name, Activity.SUCCESS, f"{done.members} entries", endpoint, size=size)
    return done
