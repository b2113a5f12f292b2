"""`docker commit` as pure steps: the new image's config and what of the container's upper dir is its own.

Docker's rules (`daemon/commit.go`, `image.NewChildImage`): the request's config,
with `--change` instructions applied, is merged over the container's config (user,
ports, env, labels, cmd/entrypoint, healthcheck, workdir, volumes, stop signal);
the image config is the parent's with that config, the container's ID and config,
one more history entry (created_by is the container's Cmd joined) and the diff ID
appended unless the layer is empty.
"""

from __future__ import annotations

import copy
import os
import posixpath
from dataclasses import dataclass, field
from typing import Any

from engine.build.instructions import apply_changes
from engine.errors import InvalidArgument
from engine.images.config import host_architecture

# Files and directories runc creates as mount points (the /etc files, /dev, /proc, /sys): not the container's changes.
RUNTIME_MOUNT_POINTS = ("etc/hosts", "etc/hostname", "etc/resolv.conf")
RUNTIME_MOUNT_DIRS = ("dev", "proc", "sys")
COMMIT_CHANGES = {"CMD", "ENTRYPOINT", "HEALTHCHECK", "ENV", "EXPOSE", "LABEL", "ONBUILD", "USER", "VOLUME", "WORKDIR"}


@dataclass(frozen=True)
class CommitOptions:
    repo: str = ""
    tag: str = ""
    comment: str = ""
    author: str = ""
    pause: bool = True
    changes: tuple[str, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)  # the request body: Config fields to set


def runtime_mountpoints(upper: str, lowers: list[str]) -> frozenset[str]:
    """The relative paths in `upper` that runc made as empty mount points and no image layer has."""
    out = set()
    for rel in RUNTIME_MOUNT_POINTS + RUNTIME_MOUNT_DIRS:
        path = os.path.join(upper, rel)
        if not os.path.lexists(path) or any(os.path.lexists(os.path.join(low, rel)) for low in lowers):
            continue
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                if not os.listdir(path):
                    out.add(rel)
            elif os.path.getsize(path) == 0:
                out.add(rel)
        except OSError:
            continue
    for parent in {posixpath.dirname(rel) for rel in out if "/" in rel}:
        # a directory in the upper dir only because runc made a mount point in it
        inside = {posixpath.join(parent, name) for name in os.listdir(os.path.join(upper, parent))}
        if inside <= out and any(os.path.isdir(os.path.join(low, parent)) for low in lowers):
            out.add(parent)
    return frozenset(out)


def merge_commit_config(user: dict[str, Any], container: dict[str, Any]) -> dict[str, Any]:
    """Docker's `merge(userConf, imageConf)` with the container's config as the base."""
    out = copy.deepcopy(user)
    base = copy.deepcopy(container)
    out["User"] = out.get("User") or base.get("User") or ""
    ports = dict(out.get("ExposedPorts") or {})
    for port, value in (base.get("ExposedPorts") or {}).items():
        ports.setdefault(port, value)
    out["ExposedPorts"] = ports or None
    env = list(out.get("Env") or [])
    keys = {e.partition("=")[0] for e in env}
    out["Env"] = env + [e for e in base.get("Env") or [] if e.partition("=")[0] not in keys] if env else base.get("Env")
    labels = dict(base.get("Labels") or {})
    labels.update(out.get("Labels") or {})
    out["Labels"] = labels
    if not out.get("Entrypoint"):
        if not out.get("Cmd"):
            out["Cmd"] = base.get("Cmd")
        if out.get("Entrypoint") is None:
            out["Entrypoint"] = base.get("Entrypoint")
    if base.get("Healthcheck"):
        health = dict(out.get("Healthcheck") or {})
        for key, value in base["Healthcheck"].items():
            if not health.get(key):
                health[key] = value
        out["Healthcheck"] = health
    out["WorkingDir"] = out.get("WorkingDir") or base.get("WorkingDir") or ""
    volumes = dict(out.get("Volumes") or {})
    volumes.update(base.get("Volumes") or {})
    out["Volumes"] = volumes or None
    out["StopSignal"] = out.get("StopSignal") or base.get("StopSignal") or ""
    for key in ("Hostname", "Domainname", "AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin",
                "StdinOnce", "Image", "OnBuild"):
        out.setdefault(key, base.get(key))
    if not out["StopSignal"]:
        del out["StopSignal"]
    return out


def new_config(opts: CommitOptions, container_config: dict[str, Any]) -> dict[str, Any]:
    """The committed image's Config: the request's fields and changes over the container's."""
    for change in opts.changes:
        keyword = change.strip().split(None, 1)[0].upper() if change.strip() else ""
        if keyword and keyword not in COMMIT_CHANGES:
            raise InvalidArgument(f"{keyword.lower()} is not a valid change command")
    user = apply_changes(copy.deepcopy(opts.config), [c for c in opts.changes if c.strip()])
    return merge_commit_config(user, container_config)


def image_config(parent: dict[str, Any], config: dict[str, Any], container_id: str, container_config: dict[str, Any],
                 opts: CommitOptions, diff_id: str | None, created: str, engine_version: str) -> dict[str, Any]:
    """The new image config document (`image.NewChildImage`)."""
    history_entry: dict[str, Any] = {"created": created}
    if opts.author:
        history_entry["author"] = opts.author
    created_by = " ".join(container_config.get("Cmd") or [])
    if created_by:
        history_entry["created_by"] = created_by
    if opts.comment:
        history_entry["comment"] = opts.comment
    if diff_id is None:
        history_entry["empty_layer"] = True
    rootfs = copy.deepcopy(parent.get("rootfs") or {"type": "layers", "diff_ids": []})
    rootfs.setdefault("type", "layers")
    if diff_id is not None:
        rootfs["diff_ids"] = [*(rootfs.get("diff_ids") or []), diff_id]
    doc: dict[str, Any] = {
        "architecture": parent.get("architecture") or host_architecture(),
        "config": config,
        "container": container_id,
        "container_config": container_config,
        "created": created,
        "docker_version": engine_version,
        "history": [*(parent.get("history") or []), history_entry],
        "os": parent.get("os") or "linux",
        "rootfs": rootfs,
    }
    if opts.author:
        doc["author"] = opts.author
    if parent.get("variant"):
        doc["variant"] = parent["variant"]
    return doc
