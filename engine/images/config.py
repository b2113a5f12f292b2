"""Image configuration documents (pure): building, normalising, and reading them.

An image config is the JSON whose sha256 is the image ID (OCI image config with
Docker's extensions): architecture, os, created, config{Cmd, Env, ...},
rootfs{diff_ids}, history[]. The bytes are stored exactly as received, so IDs
never change; these helpers only build new documents and read old ones.
"""

from __future__ import annotations

import hashlib
import json
import platform
from typing import Any

from engine.util.timefmt import rfc3339_now

ARCH_MAP = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x", "i686": "386"}

CONTAINER_CONFIG_KEYS: tuple[tuple[str, Any], ...] = (
    ("Hostname", ""), ("Domainname", ""), ("User", ""), ("AttachStdin", False),
    ("AttachStdout", False), ("AttachStderr", False), ("ExposedPorts", None), ("Tty", False),
    ("OpenStdin", False), ("StdinOnce", False), ("Env", None), ("Cmd", None), ("Healthcheck", None),
    ("ArgsEscaped", None), ("Image", ""), ("Volumes", None), ("WorkingDir", ""), ("Entrypoint", None),
    ("OnBuild", None), ("Labels", None), ("StopSignal", None), ("Shell", None),
)
_OMIT_IF_EMPTY = {"Healthcheck", "ArgsEscaped", "StopSignal", "Shell", "ExposedPorts"}


def host_architecture() -> str:
    return ARCH_MAP.get(platform.machine(), platform.machine())


def image_id(raw_config: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw_config).hexdigest()


def encode(config: dict[str, Any]) -> bytes:
    """Canonical bytes for a config Berth creates (stable key order, compact)."""
    return json.dumps(config, separators=(",", ":")).encode()


def full_container_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """The image's `config` with every key Docker shows in inspect."""
    src = config or {}
    out: dict[str, Any] = {}
    for key, default in CONTAINER_CONFIG_KEYS:
        value = src.get(key, default)
        if key in _OMIT_IF_EMPTY and value in (None, {}, [], ""):
            if key == "ExposedPorts" and key in src:
                out[key] = value
            continue
        out[key] = value
    for key, value in src.items():
        if key not in out and key not in _OMIT_IF_EMPTY:
            out[key] = value
    return out


def new_base_config(
    container_config: dict[str, Any],
    diff_ids: list[str],
    history: list[dict[str, Any]],
    created: str | None = None,
    author: str = "",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "architecture": host_architecture(),
        "config": container_config,
        "created": created or rfc3339_now(),
        "history": history,
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    if author:
        doc["author"] = author
    if extra:
        doc.update(extra)
    return doc


def layer_history_pairs(config: dict[str, Any]) -> list[tuple[dict[str, Any], int | None]]:
    """Each history entry with the index of the layer it made (None for empty layers)."""
    out: list[tuple[dict[str, Any], int | None]] = []
    layer = 0
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    history = config.get("history") or []
    if not history:
        return [({"created": config.get("created", "")}, i) for i in range(len(diff_ids))]
    for entry in history:
        if entry.get("empty_layer"):
            out.append((entry, None))
        else:
            out.append((entry, layer if layer < len(diff_ids) else None))
            layer += 1
    return out
