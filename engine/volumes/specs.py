"""Parsing what a container asks to mount (pure): -v binds, --mount, image VOLUMEs.

Every source of mounts becomes a `MountSpec`; `engine.volumes.service` turns
specs into volumes and host paths, and into Docker's `Mounts` entries.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from engine.errors import InvalidArgument

VOLUME_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")


@dataclass(frozen=True)
class MountSpec:
    type: str  # volume, bind, tmpfs
    target: str
    source: str = ""  # volume name ("" = anonymous) or host path
    readonly: bool = False
    mode: str = ""  # as Docker shows it in Mounts[].Mode
    propagation: str = ""
    nocopy: bool = False
    create_source: bool = False  # -v /host:/dst creates a missing host dir; --mount refuses
    tmpfs_options: tuple[str, ...] = ()
    volume_labels: dict[str, str] = field(default_factory=dict)
    volume_driver_opts: dict[str, str] = field(default_factory=dict)


def _clean_target(target: str) -> str:
    if not target or not target.startswith("/"):
        raise InvalidArgument(f"invalid mount config: invalid mount path: '{target}' mount path must be absolute")
    clean = posixpath.normpath(target)
    if clean == "/":
        raise InvalidArgument("invalid specification: destination can't be '/'")
    return clean


def check_volume_name(name: str) -> str:
    if not VOLUME_NAME_RE.match(name) or ".." in name:
        raise InvalidArgument(
            f'create {name}: "{name}" includes invalid characters for a local volume name, '
            "only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )
    return name


def parse_bind(spec: str) -> MountSpec:
    """`-v [SRC:]DST[:OPTS]` where SRC is a volume name or an absolute host path."""
    parts = spec.split(":")
    if len(parts) == 1:
        return MountSpec("volume", _clean_target(parts[0]), "", mode="")
    if len(parts) > 3:
        raise InvalidArgument(f"invalid volume specification: '{spec}'")
    src, dst = parts[0], parts[1]
    opts = parts[2].split(",") if len(parts) == 3 else []
    if not src:
        raise InvalidArgument(f"invalid volume specification: '{spec}'")
    readonly = False
    propagation = ""
    nocopy = False
    mode_words = []
    for opt in opts:
        if opt in ("ro", "rw"):
            readonly = opt == "ro"
            mode_words.append(opt)
        elif opt in PROPAGATIONS:
            propagation = opt
            mode_words.append(opt)
        elif opt in ("z", "Z"):
            mode_words.append(opt)
        elif opt == "nocopy":
            nocopy = True
            mode_words.append(opt)
        elif opt in ("consistent", "cached", "delegated"):
            continue
        else:
            raise InvalidArgument(f"invalid mode: {opt}")
    target = _clean_target(dst)
    if src.startswith("/"):
        if ".." in src.split("/"):
            src = posixpath.normpath(src)
        return MountSpec("bind", target, posixpath.normpath(src), readonly, ",".join(mode_words),
                         propagation or "rprivate", create_source=True)
    if src.startswith(".") or "/" in src:
        raise InvalidArgument(
            f'create {src}: "{src}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" '
            "are allowed. If you intended to pass a host directory, use absolute path"
        )
    check_volume_name(src)
    return MountSpec("volume", target, src, readonly, ",".join(mode_words) or "z", nocopy=nocopy)


def parse_mount(m: Any) -> MountSpec:
    """One entry of HostConfig.Mounts (`--mount type=...,source=...,target=...`)."""
    if not isinstance(m, dict):
        raise InvalidArgument("invalid mount config: expected an object")
    kind = m.get("Type") or "volume"
    target = _clean_target(str(m.get("Target") or ""))
    source = str(m.get("Source") or "")
    readonly = bool(m.get("ReadOnly"))
    if kind == "bind":
        if not source:
            raise InvalidArgument('invalid mount config for type "bind": field Source must not be empty')
        if not source.startswith("/"):
            raise InvalidArgument(f'invalid mount config for type "bind": invalid mount path: \'{source}\' mount path must be absolute')
        opts = m.get("BindOptions") or {}
        propagation = opts.get("Propagation") or "rprivate"
        if propagation not in PROPAGATIONS:
            raise InvalidArgument(f"invalid propagation mode: {propagation}")
        return MountSpec("bind", target, posixpath.normpath(source), readonly, "", propagation)
    if kind == "volume":
        if source:
            check_volume_name(source)
        opts = m.get("VolumeOptions") or {}
        driver = ((opts.get("DriverConfig") or {}).get("Name")) or "local"
        if driver != "local":
            raise InvalidArgument(f"error looking up volume plugin {driver}: plugin \"{driver}\" not found")
        return MountSpec("volume", target, source, readonly, "z", nocopy=bool(opts.get("NoCopy")),
                         volume_labels=dict(opts.get("Labels") or {}),
                         volume_driver_opts=dict((opts.get("DriverConfig") or {}).get("Options") or {}))
    if kind == "tmpfs":
        if source:
            raise InvalidArgument('invalid mount config for type "tmpfs": field Source must not be specified')
        opts = m.get("TmpfsOptions") or {}
        words = []
        if opts.get("SizeBytes"):
            size = int(opts["SizeBytes"])
            if size < 0:
                raise InvalidArgument("invalid tmpfs size")
            words.append(f"size={size}")
        if opts.get("Mode"):
            words.append(f"mode={int(opts['Mode']):o}")
        return MountSpec("tmpfs", target, "", readonly, "", tmpfs_options=tuple(words))
    raise InvalidArgument(f"invalid mount config: mount type unknown: \"{kind}\"")


def collect(host_config: dict[str, Any], image_volumes: dict[str, Any] | None) -> list[MountSpec]:
    """All mounts of a container, later ones never repeating a target (Docker: 'Duplicate mount point')."""
    specs: list[MountSpec] = []
    seen: set[str] = set()

    def add(spec: MountSpec) -> None:
        if spec.target in seen:
            raise InvalidArgument(f"Duplicate mount point: {spec.target}")
        seen.add(spec.target)
        specs.append(spec)

    for bind in host_config.get("Binds") or []:
        add(parse_bind(bind))
    for m in host_config.get("Mounts") or []:
        add(parse_mount(m))
    tmpfs_targets = {posixpath.normpath(t) for t in (host_config.get("Tmpfs") or {})}
    for target in image_volumes or {}:
        clean = _clean_target(target)
        if clean not in seen and clean not in tmpfs_targets:
            seen.add(clean)
            specs.append(MountSpec("volume", clean, "", mode=""))
    return specs
