"""Docker's JSON shapes for containers and images (pure functions of records)."""

from __future__ import annotations

import shlex
from typing import Any

from engine.containers.model import Container
from engine.images.config import full_container_config
from engine.images.store import Image, ImageStore
from engine.util.timefmt import rfc3339


def _ports_list(c: Container) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    published = c.ports
    exposed = set((c.config.get("ExposedPorts") or {}).keys())
    for port_proto in sorted(exposed | set(published)):
        port, _, proto = port_proto.partition("/")
        bindings = published.get(port_proto) or []
        if not bindings:
            out.append({"PrivatePort": int(port), "Type": proto or "tcp"})
        for b in bindings:
            out.append({"IP": b.get("HostIp") or "0.0.0.0", "PrivatePort": int(port),
                        "PublicPort": int(b.get("HostPort") or 0), "Type": proto or "tcp"})
    return out


def command_string(c: Container) -> str:
    argv = [c.path, *c.args]
    return " ".join(shlex.quote(a) if (" " in a or not a) else a for a in argv)


def network_settings(c: Container, summary: bool = False) -> dict[str, Any]:
    networks = dict(c.networks)
    if summary:
        return {"Networks": networks}
    # Docker fills the top-level address fields from the default bridge network only (legacy fields)
    primary = networks.get("bridge") or {}
    ports = c.ports
    port_map: dict[str, Any] = {p: None for p in (c.config.get("ExposedPorts") or {})}
    port_map.update(ports or {})
    return {
        "Bridge": "",
        "SandboxID": c.id if c.sandbox_key else "",
        "HairpinMode": False,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": port_map if c.state.status in ("running", "paused") else {},
        "SandboxKey": c.sandbox_key,
        "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None,
        "EndpointID": primary.get("EndpointID", ""),
        "Gateway": primary.get("Gateway", ""),
        "GlobalIPv6Address": primary.get("GlobalIPv6Address", ""),
        "GlobalIPv6PrefixLen": primary.get("GlobalIPv6PrefixLen", 0),
        "IPAddress": primary.get("IPAddress", ""),
        "IPPrefixLen": primary.get("IPPrefixLen", 0),
        "IPv6Gateway": primary.get("IPv6Gateway", ""),
        "MacAddress": primary.get("MacAddress", ""),
        "Networks": networks,
    }


def container_summary(c: Container, image_name: str, size: tuple[int, int] | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Id": c.id,
        "Names": ["/" + c.name],
        "Image": image_name,
        "ImageID": c.image_id,
        "Command": command_string(c),
        "Created": c.created_ns // 1_000_000_000,
        "Ports": _ports_list(c) if c.state.status in ("running", "paused") else [
            {"PrivatePort": int(p.partition("/")[0]), "Type": p.partition("/")[2] or "tcp"}
            for p in sorted(c.config.get("ExposedPorts") or {})
        ],
        "Labels": c.config.get("Labels") or {},
        "State": c.state.status,
        "Status": c.state.describe(),
        "HostConfig": {"NetworkMode": c.host_config.get("NetworkMode", "default")},
        "NetworkSettings": network_settings(c, summary=True),
        "Mounts": [_mount_point(m) for m in c.mounts],
    }
    if size is not None:
        rw, root = size
        if rw:
            out["SizeRw"] = rw
        out["SizeRootFs"] = root
    return out


def _mount_point(m: dict[str, Any]) -> dict[str, Any]:
    """Docker's MountPoint: the record's public fields, in Docker's order."""
    keys: tuple[str, ...]
    if m.get("Type") == "volume":
        keys = ("Type", "Name", "Source", "Destination", "Driver", "Mode", "RW", "Propagation")
    else:
        keys = ("Type", "Source", "Destination", "Mode", "RW", "Propagation")
    return {k: m.get(k, "") for k in keys}


def container_inspect(c: Container, paths: Any, graph: dict[str, str], size: tuple[int, int] | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Id": c.id,
        "Created": rfc3339(c.created_ns),
        "Path": c.path,
        "Args": c.args,
        "State": c.state.to_json(),
        "Image": c.image_id,
        "ResolvConfPath": paths.resolv_conf,
        "HostnamePath": paths.hostname,
        "HostsPath": paths.hosts,
        "LogPath": paths.log,
        "Name": "/" + c.name,
        "RestartCount": c.state.restart_count,
        "Driver": "overlay2",
        "Platform": c.platform,
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": list(c.exec_ids) or None,
        "HostConfig": c.host_config,
        "GraphDriver": {"Data": graph, "Name": "overlay2"},
        "Mounts": [_mount_point(m) for m in c.mounts],
        "Config": full_container_config(c.config),
        "NetworkSettings": network_settings(c),
    }
    if size is not None:
        out["SizeRw"], out["SizeRootFs"] = size
    return out


def image_summary(img: Image, store: ImageStore, containers: int = -1) -> dict[str, Any]:
    tags = store.repo_tags(img.id)
    digests = store.repo_digests(img.id)
    return {
        "Containers": containers,
        "Created": img.created_ns // 1_000_000_000,
        "Id": img.id,
        "Labels": img.labels or None,
        "ParentId": img.parent,
        "RepoDigests": digests or (["<none>@<none>"] if not tags else []),
        "RepoTags": tags or ["<none>:<none>"],
        "SharedSize": -1,
        "Size": img.size,
        "VirtualSize": img.size,
    }


def image_inspect(img: Image, store: ImageStore) -> dict[str, Any]:
    cfg = img.config
    layers = [store.layers.get(c) for c in img.chain]
    graph: dict[str, str] = {}
    if layers:
        graph["UpperDir"] = layers[-1].diff
        graph["WorkDir"] = layers[-1].path + "/work"
        graph["MergedDir"] = layers[-1].path + "/merged"
        if len(layers) > 1:
            graph["LowerDir"] = ":".join(layer.diff for layer in reversed(layers[:-1]))
    return {
        "Id": img.id,
        "RepoTags": store.repo_tags(img.id),
        "RepoDigests": store.repo_digests(img.id),
        "Parent": img.parent,
        "Comment": cfg.get("comment", "") or _last_comment(cfg),
        "Created": cfg.get("created", ""),
        "Container": cfg.get("container", ""),
        "ContainerConfig": full_container_config(cfg.get("container_config")),
        "DockerVersion": cfg.get("docker_version", ""),
        "Author": cfg.get("author", ""),
        "Config": full_container_config(cfg.get("config")),
        "Architecture": cfg.get("architecture", ""),
        **({"Variant": cfg["variant"]} if cfg.get("variant") else {}),
        "Os": cfg.get("os", ""),
        "Size": img.size,
        "VirtualSize": img.size,
        "GraphDriver": {"Data": graph, "Name": "overlay2"},
        "RootFS": {"Type": "layers", "Layers": list((cfg.get("rootfs") or {}).get("diff_ids") or [])},
        "Metadata": {"LastTagTime": rfc3339(img.last_tag_time_ns)},
    }


def _last_comment(cfg: dict[str, Any]) -> str:
    history = cfg.get("history") or []
    if history and isinstance(history[-1], dict):
        return str(history[-1].get("comment", ""))
    return ""
