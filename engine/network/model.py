"""Networks and their endpoints (pure records), and their Docker JSON.

A network is created once and lives until removed; an endpoint exists while a
container is attached (from start to stop, or connect to disconnect). Three
networks always exist: `bridge` (the default, with its own Linux bridge),
`host` and `none`.

A bridge network may be IPv6-enabled (`enable_ipv6`, Docker's EnableIPv6): it then
has an IPv6 subnet besides its IPv4 one, and each endpoint an address of each.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from engine.network.ipam import SubnetConfig, subnet_version, validate_config
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
    ip6: str = ""  # on an IPv6-enabled network
    prefixlen6: int = 0
    ipam_ip6: str = ""  # the IPv6 address the user asked for (--ip6)


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
    enable_ipv6: bool = False
    subnet6: str = ""  # may be set without enable_ipv6 (Docker keeps it, but hands out no IPv6 address)
    gateway6: str = ""
    ip_range6: str = ""

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

    @property
    def has_ipv6(self) -> bool:
        """Endpoints on this network get an IPv6 address."""
        return self.enable_ipv6 and bool(self.subnet6)

    def subnet_config(self) -> SubnetConfig:
        return validate_config(self.subnet, self.gateway, self.ip_range)

    def subnet6_config(self) -> SubnetConfig:
        return validate_config(self.subnet6, self.gateway6, self.ip_range6)

    def _ipam_json(self) -> list[dict[str, Any]]:
        """IPAM.Config as Docker shows it: IPv4 entries, then IPv6; given ones as given (`omitempty`)."""
        given = [{k: v for k, v in entry.items() if v} for entry in self.ipam_config or []]
        v6 = [e for e in given if subnet_version(str(e.get("Subnet") or "")) == 6]
        v4 = [e for e in given if e not in v6]
        if not v4 and self.subnet and (self.ipam_config is None or v6):  # carved from the pool
            v4 = [{"Subnet": self.subnet, "Gateway": self.gateway, **({"IPRange": self.ip_range} if self.ip_range else {})}]
        return v4 + v6

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Network:
        eps = {k: Endpoint(**v) for k, v in (data.pop("endpoints", None) or {}).items()}
        return cls(endpoints=eps, **data)

    def to_json(self, with_containers: bool) -> dict[str, Any]:
        driver = {"none": "null"}.get(self.driver, self.driver)
        containers: dict[str, Any] = {}
        if with_containers:
            for cid, ep in self.endpoints.items():
                containers[cid] = {
                    "Name": ep.container_name, "EndpointID": ep.endpoint_id, "MacAddress": ep.mac,
                    "IPv4Address": f"{ep.ip}/{ep.prefixlen}" if ep.ip else "", "IPv6Address": f"{ep.ip6}/{ep.prefixlen6}" if ep.ip6 else "",
                }
        return {
            "Name": self.name,
            "Id": self.id,
            "Created": rfc3339(self.created_ns),
            "Scope": self.scope,
            "Driver": driver,
            "EnableIPv6": self.enable_ipv6,
            "IPAM": {"Driver": "default", "Options": self.ipam_options, "Config": self._ipam_json()},
            "Internal": self.internal,
            "Attachable": self.attachable,
            "Ingress": False,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": False,
            "Containers": containers,
            "Options": dict(self.options),
            "Labels": dict(self.labels),
        }
