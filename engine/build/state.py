"""Build state and the pure parts of a build step: configs, history and cache keys."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from engine.errors import EngineError
from engine.images.config import host_architecture
from engine.util.timefmt import rfc3339_now

DEFAULT_SHELL = ["/bin/sh", "-c"]
# Proxy variables never trigger the "build-args were not consumed" warning.
PREDEFINED_ARGS = {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
                   "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"}


class BuildError(EngineError):
    """A step failed; `code` is what the CLI exits with."""

    status = 400

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class BuildOptions:
    dockerfile: str = "Dockerfile"
    tags: tuple[str, ...] = ()
    build_args: dict[str, str | None] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    rm: bool = True
    force_rm: bool = False
    quiet: bool = False
    network_mode: str = ""
    extra_hosts: tuple[str, ...] = ()  # "name:address", as --add-host
    pull: bool = False  # --pull: FROM images are pulled even when they are here
    cache_from: frozenset[str] | None = None  # image IDs whose ancestry is the only cache; None: the local cache


@dataclass
class Stage:
    """One FROM ... section: the image built so far and what the Dockerfile declared in it."""

    name: str
    image_id: str  # "" for scratch before the first layer
    image_config: dict[str, Any]
    args: dict[str, str] = field(default_factory=dict)
    cmd_set: bool = False

    @property
    def config(self) -> dict[str, Any]:
        return self.image_config.setdefault("config", {})

    def env(self) -> dict[str, str]:
        """What variables expand to: the stage's ARGs, overridden by ENV."""
        out = dict(self.args)
        for item in self.config.get("Env") or []:
            key, _, value = item.partition("=")
            out[key] = value
        return out

    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)


def scratch_config() -> dict[str, Any]:
    return {"architecture": host_architecture(), "os": "linux", "config": {},
            "rootfs": {"type": "layers", "diff_ids": []}, "history": []}


def next_config(parent: dict[str, Any], run_config: dict[str, Any], created_by: str, diff_id: str | None,
                author: str | None = None) -> dict[str, Any]:
    """The image config after one build step."""
    doc = copy.deepcopy(parent)
    created = rfc3339_now()
    doc["config"] = copy.deepcopy(run_config)
    doc["container_config"] = {**copy.deepcopy(run_config), "Cmd": ["/bin/sh", "-c", created_by.removeprefix("/bin/sh -c ")]}
    doc["created"] = created
    if author is not None:
        doc["author"] = author
    doc.setdefault("architecture", host_architecture())
    doc.setdefault("os", "linux")
    rootfs = doc.setdefault("rootfs", {"type": "layers", "diff_ids": []})
    entry: dict[str, Any] = {"created": created, "created_by": created_by}
    if diff_id is None:
        entry["empty_layer"] = True
    else:
        rootfs.setdefault("diff_ids", []).append(diff_id)
    doc.setdefault("history", []).append(entry)
    return doc


def cache_key(parent_id: str, created_by: str, run_config: dict[str, Any], extra: str = "") -> str:
    doc = json.dumps({"parent": parent_id, "created_by": created_by, "config": run_config, "extra": extra},
                     sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(doc.encode()).hexdigest()


def go_quote_list(items: list[str]) -> str:
    """Go's %q of a []string, as Docker prints CMD and ENTRYPOINT in history: ["a" "b"]."""
    return "[" + " ".join(json.dumps(i) for i in items) + "]"


def nop(text: str) -> str:
    return f"/bin/sh -c #(nop)  {text}"
