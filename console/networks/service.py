"""What the console does to networks: list (with how many containers each has), inspect with the attached
containers, create, remove, prune, connect and disconnect.

Pages and the REST API both call these, so they behave alike and every change
is audited here. `rows()`, `attached()` and `create_kwargs()` are pure: they
read `GET /networks`, `GET /containers/json` summaries (whose
NetworkSettings.Networks carry each attachment's address, MAC and aliases) and
a `NetworkSpec`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import docker.types
from django.utils.dateparse import parse_datetime

from console.accounts.ownership import forget, record_owner
from console.audit.log import record
from console.audit.models import Activity
from console.endpoints.client import EngineError, endpoint_client
from console.endpoints.models import Endpoint

BUILTIN = ("bridge", "host", "none")
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"


@dataclass(frozen=True)
class NetworkSpec:
    """A network to create, as the form (or the API) checked it."""

    name: str
    driver: str = "bridge"
    subnet: str = ""
    gateway: str = ""
    ip_range: str = ""
    internal: bool = False
    bridge_name: str = ""  # bridge driver: the Linux bridge's name
    parent: str = ""  # macvlan driver: the host interface
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NetworkRow:
    id: str
    name: str
    driver: str
    subnet: str
    gateway: str
    ip_range: str
    internal: bool
    created: datetime | None
    containers: int
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def builtin(self) -> bool:
        return self.name in BUILTIN


@dataclass(frozen=True)
class Attached:
    """A container on a network."""

    id: str
    name: str
    state: str
    ipv4: str
    mac: str
    aliases: tuple[str, ...]


def _on_network(summary: dict[str, Any], net: dict[str, Any]) -> dict[str, Any] | None:
    """The summary's endpoint settings on `net` (matched by ID, else by name), or None."""
    networks = (summary.get("NetworkSettings") or {}).get("Networks") or {}
    for name, settings in networks.items():
        if (settings or {}).get("NetworkID") == net["Id"] or name == net["Name"]:
            return settings or {}
    return None


def row(net: dict[str, Any], containers: list[dict[str, Any]]) -> NetworkRow:
    ipam = ((net.get("IPAM") or {}).get("Config") or [{}])
    first = ipam[0] if ipam else {}
    return NetworkRow(
        id=net["Id"], name=net["Name"], driver=net.get("Driver") or "", subnet=first.get("Subnet") or "",
        gateway=first.get("Gateway") or "", ip_range=first.get("IPRange") or "", internal=bool(net.get("Internal")),
        created=parse_datetime(net["Created"]) if net.get("Created") else None,
        containers=sum(1 for c in containers if _on_network(c, net) is not None),
        labels=net.get("Labels") or {}, options=net.get("Options") or {},
    )


def rows(networks: list[dict[str, Any]], containers: list[dict[str, Any]]) -> list[NetworkRow]:
    """Networks with their container counts: built-in ones first, then by name (pure)."""
    return sorted((row(n, containers) for n in networks), key=lambda r: (not r.builtin, r.name.lower()))


def attached(net: dict[str, Any], containers: list[dict[str, Any]]) -> list[Attached]:
    """The containers on `net`, by name, with their address, MAC and aliases on it (pure)."""
    out = []
    for c in containers:
        settings = _on_network(c, net)
        if settings is None:
            continue
        ip, prefix = settings.get("IPAddress") or "", settings.get("IPPrefixLen")
        out.append(Attached(id=c["Id"], name=((c.get("Names") or [""])[0] or c["Id"][:12]).lstrip("/"),
                            state=c.get("State", ""), ipv4=f"{ip}/{prefix}" if ip and prefix else ip,
                            mac=settings.get("MacAddress") or "",
                            aliases=tuple(a for a in settings.get("Aliases") or () if a not in (c["Id"][:12],))))
    return sorted(out, key=lambda a: a.name)


def create_kwargs(spec: NetworkSpec) -> dict[str, Any]:
    """Arguments of docker's APIClient.create_network for `spec` (pure)."""
    options: dict[str, str] = {}
    if spec.driver == "bridge" and spec.bridge_name:
        options[BRIDGE_NAME_OPTION] = spec.bridge_name
    if spec.driver == "macvlan" and spec.parent:
        options["parent"] = spec.parent
    ipam = None
    if spec.subnet:
        pool = docker.types.IPAMPool(subnet=spec.subnet, gateway=spec.gateway or None, iprange=spec.ip_range or None)
        ipam = docker.types.IPAMConfig(pool_configs=[pool])
    return {"name": spec.name, "driver": spec.driver, "options": options or None, "ipam": ipam,
            "internal": spec.internal, "labels": spec.labels or None}


def list_networks(endpoint: Endpoint) -> list[NetworkRow]:
    with endpoint_client(endpoint) as client:
        return rows(client.api.networks(), client.api.containers(all=True))


def get_network(endpoint: Endpoint, ref: str) -> tuple[NetworkRow, list[Attached]]:
    """The network (by ID, ID prefix or name) and its containers; EngineError 404 when there is none."""
    with endpoint_client(endpoint) as client:
        net = client.api.inspect_network(ref)
        # by name: Berth's `network` filter matches names only (Docker's takes an ID too)
        containers = client.api.containers(all=True, filters={"network": net["Name"]})
    return row(net, containers), attached(net, containers)


def names(endpoint: Endpoint) -> set[str]:
    with endpoint_client(endpoint, timeout=5) as client:
        return {n["Name"] for n in client.api.networks()}


def _audited(request: Any, endpoint: Endpoint, action: str, target: str, details: dict[str, Any], call: Any) -> Any:
    """Run `call(api)` on the endpoint; record the outcome as `action`; EngineError passes through."""
    try:
        with endpoint_client(endpoint, timeout=60) as client:
            result = call(client.api)
    except EngineError as exc:
        record(request, action, target, Activity.FAILURE, exc.message, endpoint, **details)
        raise
    record(request, action, target, Activity.SUCCESS, "", endpoint, **details)
    return result


def create_network(request: Any, endpoint: Endpoint, spec: NetworkSpec) -> str:
    """Create the network; its ID."""
    made = _audited(request, endpoint, "network.create", spec.name, asdict(spec),
                    lambda api: api.create_network(**create_kwargs(spec)))
    record_owner(getattr(request, "user", None), endpoint, "network", str(made["Id"]), spec.name)
    return str(made["Id"])


def remove_network(request: Any, endpoint: Endpoint, ref: str, name: str) -> None:
    _audited(request, endpoint, "network.remove", name, {"id": ref}, lambda api: api.remove_network(ref))
    forget(endpoint, "network", ref)


def prune_networks(request: Any, endpoint: Endpoint) -> list[str]:
    """Remove every user-defined network no container uses; their names."""
    result = _audited(request, endpoint, "network.prune", "networks", {}, lambda api: api.prune_networks())
    return list(result.get("NetworksDeleted") or [])


def connect(request: Any, endpoint: Endpoint, ref: str, name: str, container: str, aliases: list[str], ipv4: str) -> None:
    details = {"network": name, "container": container, "aliases": aliases, "ipv4": ipv4}
    _audited(request, endpoint, "network.connect", f"{container} → {name}", details,
             lambda api: api.connect_container_to_network(container, ref, aliases=aliases or None, ipv4_address=ipv4 or None))


def disconnect(request: Any, endpoint: Endpoint, ref: str, name: str, container: str) -> None:
    _audited(request, endpoint, "network.disconnect", f"{container} ✕ {name}", {"network": name, "container": container},
             lambda api: api.disconnect_container_from_network(container, ref))
