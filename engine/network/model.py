"""Networks and their endpoints (pure records), and their Docker JSON.

A network is created once and lives until removed; an endpoint exists while a
container is attached (from start to stop, or connect to disconnect). Three
networks always exist: `bridge` (the default, with its own Linux bridge),
`host` and `none`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from engine.network.ipam import SubnetConfig, validate_config
from engine.util.timefmt import rfc3339

BUILTIN = ("bridge", "host", "none")


@dataclass
class Endpoint:
    container_id: str
    container_name: str
    endpoint_id: str
    ip: str = ""
    prefixlen: int = 0
    mac: str = ""
    aliases: list[str] = field(default_factory=list)
    ipam_ip: str = ""  # the address the user asked for (--ip), kept across restarts
    ifname: str = ""  # inside the container: eth0, eth1, ...
    host_ifname: str = ""  # the veth end on the host
    links: dict[str, str] = field(default_factory=dict)  # link alias -> container name, for this container only


@dataclass
class Network:
    id: str
    name: str
    driver: str
    created_ns: int
    subnet: str = ""
    gateway: str = ""
    ip_range: str = ""
    internal: bool = False
    attachable: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    bridge: str = ""  # Linux bridge name (bridge driver) or parent (macvlan)
    default: bool = False
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    ipam_options: dict[str, str] | None = None  # as the create request gave them (Docker echoes them)
    ipam_config: list[dict[str, Any]] | None = None  # the request's IPAM.Config, shown as given

    @property
    def user_defined(self) -> bool:
        return self.name not in BUILTIN

    @property
    def scope(self) -> str:
        """Docker's scope: overlay networks span the cluster."""
        return "global" if self.driver == "overlay" else "local"

    @property
    def has_ip(self) -> bool:
        return bool(self.subnet)

    def subnet_config(self) -> SubnetConfig:
        return validate_config(self.subnet, self.gateway, self.ip_range)

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Network:
        eps = {k: Endpoint(**v) for k, v in (data.pop("endpoints", None) or {}).items()}
        return cls(endpoints=eps, **data)

    def to_json(self, with_containers: bool) -> dict[str, Any]:
        driver = {"none": "null"}.get(self.driver, self.driver)
        ipam_config: list[dict[str, Any]] = []
        if self.ipam_config is not None:
            # Docker's IPAMConfig fields are all `omitempty`
            ipam_config = [{k: v for k, v in entry.items() if v} for entry in self.ipam_config]
        elif self.subnet:
            entry = {"Subnet": self.subnet, "Gateway": self.gateway}
            if self.ip_range:
                entry["IPRange"] = self.ip_range
            ipam_config.append(entry)
        containers: dict[str, Any] = {}
        if with_containers:
            for cid, ep in self.endpoints.items():
                containers[cid] = {
                    "Name": ep.container_name, "EndpointID": ep.endpoint_id, "MacAddress": ep.mac,
                    "IPv4Address": f"{ep.ip}/{ep.prefixlen}" if ep.ip else "", "IPv6Address": "",
                }
        return {
            "Name": self.name,
            "Id": self.id,
            "Created": rfc3339(self.created_ns),
            "Scope": self.scope,
            "Driver": driver,
            "EnableIPv6": False,
            "IPAM": {"Driver": "default", "Options": self.ipam_options, "Config": ipam_config},
            "Internal": self.internal,
            "Attachable": self.attachable,
            "Ingress": False,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": False,
            "Containers": containers,
            "Options": dict(self.options),
            "Labels": dict(self.labels),
        }
