"""Named and anonymous volumes with the local driver.

    <root>/volumes/<name>/volume.json   {"created_ns", "labels", "options", "anonymous"}
    <root>/volumes/<name>/_data         the data (a mount point when the volume has options)

A volume with `-o type=... -o device=... -o o=...` is mounted on its `_data`
while at least one container uses it, as Docker's local driver does. An empty
volume is filled from the image's content at the mount path the first time a
container mounts it ("copy-up"), keeping owners and modes.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.errors import Conflict, InvalidArgument, NotFound, SystemFault
from engine.events import EventBus
from engine.util import mounts
from engine.util.filters import Filters
from engine.util.fs import atomic_write_json, read_json
from engine.util.timefmt import now_ns, rfc3339
from engine.volumes.specs import check_volume_name

LOCAL_OPTIONS = ("type", "device", "o", "size")


@dataclass
class Volume:
    name: str
    path: str
    created_ns: int
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    anonymous: bool = False
    driver: str = "local"

    @property
    def mountpoint(self) -> str:
        return os.path.join(self.path, "_data")

    def to_json(self, usage: dict[str, int] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "CreatedAt": rfc3339(self.created_ns // 1_000_000_000 * 1_000_000_000),
            "Driver": self.driver,
            "Labels": self.labels or None,
            "Mountpoint": self.mountpoint,
            "Name": self.name,
            "Options": self.options or None,
            "Scope": "local",
        }
        if usage is not None:
            out["UsageData"] = usage
        return out


InUse = Callable[[], dict[str, list[str]]]  # volume name → ids of containers that reference it


class VolumeService:
    def __init__(self, root: str, events: EventBus) -> None:
        self.dir = os.path.join(root, "volumes")
        os.makedirs(self.dir, mode=0o711, exist_ok=True)
        self.events = events
        self.volumes: dict[str, Volume] = {}
        self.mounted: dict[str, int] = {}  # option-mounted volume → number of running users
        self.in_use: InUse = dict
        for name in os.listdir(self.dir):
            meta = read_json(os.path.join(self.dir, name, "volume.json"))
            if meta is None:
                continue
            self.volumes[name] = Volume(name, os.path.join(self.dir, name), meta.get("created_ns", 0),
                                        meta.get("labels") or {}, meta.get("options") or {}, bool(meta.get("anonymous")))

    # -- lifecycle ------------------------------------------------------------------------------
    def create(self, name: str = "", driver: str = "local", labels: dict[str, str] | None = None,
               options: dict[str, str] | None = None, anonymous: bool = False) -> Volume:
        if driver and driver != "local":
            raise NotFound(f"error looking up volume plugin {driver}: plugin \"{driver}\" not found")
        if not name:
            name, anonymous = secrets.token_hex(32), True
        check_volume_name(name)
        existing = self.volumes.get(name)
        if existing is not None:
            return existing
        opts = dict(options or {})
        for key in opts:
            if key not in LOCAL_OPTIONS:
                raise InvalidArgument(f'invalid option: "{key}"')
        if opts and ("type" in opts or "o" in opts or "device" in opts):
            if not opts.get("device"):
                raise InvalidArgument('missing required option: "device"')
            if not opts.get("type"):
                raise InvalidArgument('missing required option: "type"')
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.join(path, "_data"), mode=0o755, exist_ok=True)
        vol = Volume(name, path, now_ns(), dict(labels or {}), opts, anonymous)
        atomic_write_json(os.path.join(path, "volume.json"),
                          {"created_ns": vol.created_ns, "labels": vol.labels, "options": vol.options, "anonymous": anonymous})
        self.volumes[name] = vol
        self.events.publish("volume", "create", name, {"driver": "local"})
        return vol

    def get(self, name: str) -> Volume:
        vol = self.volumes.get(name)
        if vol is None:
            raise NotFound(f"get {name}: no such volume")
        return vol

    def remove(self, name: str, force: bool = False) -> None:
        vol = self.volumes.get(name)
        if vol is None:
            if force:
                return
            raise NotFound(f"get {name}: no such volume")
        users = self.in_use().get(name) or []
        if users:
            raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
        self._drop(vol)

    def _drop(self, vol: Volume) -> None:
        if self.mounted.pop(vol.name, 0):
            mounts.unmount(vol.mountpoint, detach=True)
        for point in mounts.mounts_under(vol.path):
            mounts.unmount(point, detach=True)
        gone = os.path.join(self.dir, f".gone-{secrets.token_hex(6)}")
        os.rename(vol.path, gone)
        del self.volumes[vol.name]
        shutil.rmtree(gone, ignore_errors=True)
        self.events.publish("volume", "destroy", vol.name, {"driver": "local"})

    def prune(self, filters: Filters) -> tuple[list[str], int]:
        filters.validate({"label", "label!", "all"})
        used = self.in_use()
        removed, reclaimed = [], 0
        for vol in list(self.volumes.values()):
            if used.get(vol.name) or not filters.match_labels(vol.labels):
                continue
            reclaimed += self.size(vol)
            self._drop(vol)
            removed.append(vol.name)
        return removed, reclaimed

    def list(self, filters: Filters) -> list[Volume]:
        filters.validate({"dangling", "label", "label!", "name", "driver"})
        used = self.in_use()
        dangling = filters.bool_value("dangling", None)
        out = []
        for vol in sorted(self.volumes.values(), key=lambda v: v.name):
            if dangling is not None and dangling == bool(used.get(vol.name)):
                continue
            if filters.has("name") and not any(v in vol.name for v in filters.values("name")):
                continue
            if filters.has("driver") and "local" not in filters.values("driver"):
                continue
            if not filters.match_labels(vol.labels):
                continue
            out.append(vol)
        return out

    @staticmethod
    def size(vol: Volume) -> int:
        total = 0
        for dirpath, _dirs, files in os.walk(vol.mountpoint):
            for f in files:
                try:
                    total += os.lstat(os.path.join(dirpath, f)).st_size
                except OSError:
                    pass
        return total

    # -- use by containers ------------------------------------------------------------------------
    def acquire(self, vol: Volume) -> None:
        """A container that uses the volume starts: mount its filesystem if it has one."""
        if not vol.options:
            return
        count = self.mounted.get(vol.name, 0)
        if count == 0 and not mounts.is_mounted(vol.mountpoint):
            o = vol.options.get("o", "")
            words = [w for w in o.split(",") if w]
            flags = 0
            if "bind" in words or "rbind" in words:
                flags |= mounts.MS_BIND | (mounts.MS_REC if "rbind" in words else 0)
                words = [w for w in words if w not in ("bind", "rbind")]
            if "ro" in words:
                flags |= mounts.MS_RDONLY
                words.remove("ro")
            try:
                mounts.mount(mounts.Mount(vol.options.get("type", "none"), vol.options.get("device", ""),
                                          vol.mountpoint, ",".join(words), flags))
            except SystemFault as exc:
                raise SystemFault(f"error while mounting volume '{vol.mountpoint}': {exc.message}") from None
        self.mounted[vol.name] = count + 1

    def release(self, vol: Volume) -> None:
        count = self.mounted.get(vol.name, 0)
        if count <= 1:
            if count:
                del self.mounted[vol.name]
                mounts.unmount(vol.mountpoint)
        else:
            self.mounted[vol.name] = count - 1

    def copy_up(self, vol: Volume, source: str) -> None:
        """Fill an empty volume from the image's content at its mount path (owners and modes kept)."""
        if not os.path.isdir(source) or os.listdir(vol.mountpoint):
            return
        st = os.lstat(source)
        os.chown(vol.mountpoint, st.st_uid, st.st_gid)
        os.chmod(vol.mountpoint, st.st_mode & 0o7777)
        if not os.listdir(source):
            return
        proc = subprocess.run(["cp", "-a", "--", source + "/.", vol.mountpoint + "/"], capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemFault(f"copying image content into volume {vol.name}: {proc.stderr.strip()}")
