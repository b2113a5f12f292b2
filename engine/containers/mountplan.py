"""A container's volumes and bind mounts: planned at create, mounted at start.

`plan` turns -v / --mount / --volumes-from / the image's VOLUMEs into the
container's `Mounts` (Docker's MountPoint records, kept in the container record),
creating named and anonymous volumes on the way. `prepare` (at start) mounts
volume filesystems, fills empty volumes from the image, creates missing -v host
directories, and returns the OCI mounts for runc; `release` undoes the volume
mounts when the container ends.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from engine.containers.model import Container
from engine.errors import InvalidArgument, NotFound
from engine.snapshots.tarsafe import UnsafeArchive, resolve_inside
from engine.volumes.service import Volume, VolumeService
from engine.volumes.specs import MountSpec, collect

DOCKER_FIELDS = ("Type", "Name", "Source", "Destination", "Driver", "Mode", "RW", "Propagation")


def _point(spec: MountSpec, vol: Volume | None) -> dict[str, Any]:
    if spec.type == "volume":
        assert vol is not None
        return {"Type": "volume", "Name": vol.name, "Source": vol.mountpoint, "Destination": spec.target,
                "Driver": "local", "Mode": spec.mode, "RW": not spec.readonly, "Propagation": "",
                "Anonymous": vol.anonymous, "Nocopy": spec.nocopy}
    if spec.type == "bind":
        return {"Type": "bind", "Source": spec.source, "Destination": spec.target, "Mode": spec.mode,
                "RW": not spec.readonly, "Propagation": spec.propagation, "CreateSource": spec.create_source}
    return {"Type": "tmpfs", "Source": "", "Destination": spec.target, "Mode": "", "RW": not spec.readonly,
            "Propagation": "", "TmpfsOptions": list(spec.tmpfs_options)}


def plan(host_config: dict[str, Any], image_volumes: dict[str, Any] | None, volumes: VolumeService,
         find: Callable[[str], Container | None]) -> tuple[list[dict[str, Any]], list[str]]:
    """The container's mount points, and the names of volumes this call created (for rollback)."""
    specs = collect(host_config, image_volumes)
    for spec in specs:
        if spec.type == "bind" and not spec.create_source and not os.path.exists(spec.source):
            raise InvalidArgument(f'invalid mount config for type "bind": bind source path does not exist: {spec.source}')
    created: list[str] = []
    points: list[dict[str, Any]] = []
    targets = {s.target for s in specs}
    try:
        for spec in specs:
            vol = None
            if spec.type == "volume":
                existed = spec.source in volumes.volumes
                vol = volumes.create(spec.source, labels=spec.volume_labels, options=spec.volume_driver_opts,
                                     anonymous=not spec.source)
                if not existed:
                    created.append(vol.name)
            points.append(_point(spec, vol))
        for entry in host_config.get("VolumesFrom") or []:
            ref, _, mode = entry.partition(":")
            if mode not in ("", "ro", "rw"):
                raise InvalidArgument(f"invalid mode for volumes-from: {mode}")
            source = find(ref)
            if source is None:
                raise NotFound(f"No such container: {ref}")
            for m in source.mounts:
                if m["Destination"] in targets or m["Type"] == "tmpfs":
                    continue
                copy = dict(m)
                if mode:
                    copy["RW"] = mode == "rw"
                    copy["Mode"] = mode
                points.append(copy)
                targets.add(m["Destination"])
    except BaseException:
        for name in created:
            volumes.remove(name, force=True)
        raise
    return points, created


def prepare(c: Container, rootfs: str, volumes: VolumeService) -> list[dict[str, Any]]:
    """Mount what needs mounting and return the OCI mounts, in the order they were asked for."""
    out: list[dict[str, Any]] = []
    acquired: list[Volume] = []
    try:
        for m in c.mounts:
            options = ["rbind", "rprivate" if not m.get("Propagation") else m["Propagation"]]
            if not m.get("RW", True):
                options.append("ro")
            if m["Type"] == "volume":
                vol = volumes.get(m["Name"])
                volumes.acquire(vol)
                acquired.append(vol)
                volumes.events.publish("volume", "mount", vol.name, {
                    "container": c.id, "destination": m["Destination"], "driver": "local",
                    "propagation": m.get("Propagation") or "", "read/write": "true" if m.get("RW", True) else "false"})
                if not m.get("Nocopy"):
                    try:
                        image_dir = resolve_inside(rootfs, m["Destination"].lstrip("/"), follow_last=True)
                    except UnsafeArchive:
                        image_dir = ""
                    if image_dir:
                        volumes.copy_up(vol, image_dir)
                out.append({"destination": m["Destination"], "type": "bind", "source": vol.mountpoint, "options": options})
            elif m["Type"] == "bind":
                source = m["Source"]
                if not os.path.exists(source):
                    if not m.get("CreateSource"):
                        raise InvalidArgument(f'invalid mount config for type "bind": bind source path does not exist: {source}')
                    os.makedirs(source, mode=0o755, exist_ok=True)
                out.append({"destination": m["Destination"], "type": "bind", "source": os.path.realpath(source),
                            "options": options})
            else:
                opts = ["nosuid", "nodev", "noexec", *m.get("TmpfsOptions", [])]
                if not m.get("RW", True):
                    opts.append("ro")
                out.append({"destination": m["Destination"], "type": "tmpfs", "source": "tmpfs", "options": opts})
    except BaseException:
        for vol in acquired:
            volumes.release(vol)
        raise
    return out


def release(c: Container, volumes: VolumeService) -> None:
    for m in c.mounts:
        if m["Type"] == "volume" and m.get("Name") in volumes.volumes:
            volumes.release(volumes.volumes[m["Name"]])
            volumes.events.publish("volume", "unmount", m["Name"], {"container": c.id, "driver": "local"})


def in_use(containers: list[Container]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for c in containers:
        for m in c.mounts:
            if m["Type"] == "volume":
                out.setdefault(m["Name"], []).append(c.id)
    return out
