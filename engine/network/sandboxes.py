"""A container's network stack: its namespace, endpoints, published ports and DNS.

`attach` runs before `runc create` (runc then joins the namespace by path) and
`detach` after the container ends. In between, `connect`/`disconnect` add and
remove networks on the running container. A container record carries its
endpoint settings (`networks`, Docker's NetworkSettings.Networks) and its
published ports, so a restarted engine can `restore` the endpoints, DNS sockets
and DNAT rules of containers that kept running.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.errors import Forbidden, InvalidArgument
from engine.network import dnsmsg, ipam, netlink, ruleset
from engine.network.dns import Answer, DnsServer
from engine.network.model import Endpoint, Network
from engine.network.ports import HeldPort, PortAllocator, requests_from
from engine.network.service import NetworkService
from engine.observe.tracing import traced

log = logging.getLogger(__name__)


class NetworkedContainer(Protocol):
    id: str
    name: str
    config: dict[str, Any]
    host_config: dict[str, Any]
    networks: dict[str, Any]
    ports: dict[str, Any]
    sandbox_key: str


class OverlayEndpoints(Protocol):
    """What sandboxes need of the overlay driver (engine/network/overlay.py), present with a cluster store."""

    async def claim_address(self, net: Network, container_id: str, wanted: str) -> str: ...

    async def join(self, net: Network, ep: Endpoint) -> None: ...

    async def leave(self, net: Network, ep: Endpoint) -> None: ...

    def remote_endpoints(self, net: Network) -> list[Endpoint]: ...


ROUTED_DRIVERS = ("bridge", "overlay")  # a veth into a bridge with the gateway: ports can be published
MTU_OPTION = "com.docker.network.driver.mtu"


@dataclass
class SandboxResult:
    path: str
    held: list[HeldPort] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    embedded_dns: bool = False


def link_aliases(links: list[str] | None) -> dict[str, str]:
    """Docker's links on a user-defined network ("name:alias" or "name"): alias -> container name.

    libnetwork turns them into DNS names that only the linking container resolves;
    no /etc/hosts entries and no environment variables, unlike legacy links.
    """
    out: dict[str, str] = {}
    for link in links or []:
        name, _, alias = str(link).partition(":")
        name = name.strip("/")
        out[(alias.rsplit("/", 1)[-1] or name).lower()] = name.lower()
    return out


def endpoint_settings(net: Network, config: dict[str, Any] | None, ep: Endpoint | None = None) -> dict[str, Any]:
    cfg = config or {}
    return {
        "IPAMConfig": cfg.get("IPAMConfig") or None,
        "Links": cfg.get("Links") or None,
        "Aliases": (ep.aliases if ep else cfg.get("Aliases")) or None,
        "NetworkID": net.id,
        "EndpointID": ep.endpoint_id if ep else "",
        "Gateway": net.gateway if ep and ep.ip else "",
        "IPAddress": ep.ip if ep else "",
        "IPPrefixLen": ep.prefixlen if ep else 0,
        "IPv6Gateway": net.gateway6 if ep and ep.ip6 else "",
        "GlobalIPv6Address": ep.ip6 if ep else "",
        "GlobalIPv6PrefixLen": ep.prefixlen6 if ep else 0,
        "MacAddress": ep.mac if ep else cfg.get("MacAddress") or "",
        "DriverOpts": cfg.get("DriverOpts") or None,
    }


class Sandboxes:
    def __init__(self, nets: NetworkService) -> None:
        self.nets = nets
        self.dns = DnsServer(self.resolve)
        self.ports = PortAllocator()
        self.upstream: dict[str, list[str]] = {}
        self.overlay: OverlayEndpoints | None = None

    # -- at create -----------------------------------------------------------------------------
    def initial_networks(self, host_config: dict[str, Any], networking: dict[str, Any] | None) -> dict[str, Any]:
        """The container's NetworkSettings.Networks from a create request.

        An unknown network is not an error yet: as Docker, the container is created
        and its start fails with 404 (a 404 from create would make the CLI pull).
        """
        mode = host_config.get("NetworkMode") or "default"
        if mode == "host" or mode.startswith("container:"):
            if mode.startswith("container:") and host_config.get("PortBindings"):
                raise InvalidArgument("conflicting options: port publishing and the container type network mode")
            return {}
        name = "bridge" if mode == "default" else mode
        endpoints = (networking or {}).get("EndpointsConfig") or {}
        if not isinstance(endpoints, dict):
            raise InvalidArgument("NetworkingConfig.EndpointsConfig must be an object")
        out: dict[str, Any] = {}
        for wanted, cfg in [(name, endpoints.get(name) or endpoints.get("default") or {})] + [
                (k, v or {}) for k, v in endpoints.items() if k not in (name, "default")]:
            net = self.nets.find(wanted)
            if net is None:
                out[wanted] = {"IPAMConfig": (cfg or {}).get("IPAMConfig") or None, "Links": (cfg or {}).get("Links") or None,
                               "Aliases": (cfg or {}).get("Aliases") or None, "NetworkID": "", "EndpointID": "",
                               "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
                               "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "MacAddress": "", "DriverOpts": None}
                continue
            self._check_endpoint_config(net, cfg)
            if wanted == name and mode != "default":
                host_config["NetworkMode"] = net.name
            out[net.name] = endpoint_settings(net, cfg)
        return out

    @staticmethod
    def _check_endpoint_config(net: Network, cfg: dict[str, Any]) -> None:
        """Docker's checks at create and connect; an IPv6 address outside the subnet fails later, in IPAM."""
        if not isinstance(cfg, dict):
            raise InvalidArgument("invalid endpoint config")
        aliases = cfg.get("Aliases") or []
        wanted = ((cfg.get("IPAMConfig") or {}).get("IPv4Address") or "")
        wanted6 = ((cfg.get("IPAMConfig") or {}).get("IPv6Address") or "")
        if aliases and not net.user_defined:
            raise InvalidArgument("network-scoped alias is supported only for containers in user defined networks")
        if wanted6 and not _is_ipv6(wanted6):
            raise InvalidArgument(f"invalid IPv6 address: {wanted6}")
        if (wanted or wanted6) and not net.user_defined:
            raise InvalidArgument("user specified IP address is supported on user defined networks only")
        if wanted6 and not net.subnet6:
            raise InvalidArgument("user specified IP address is supported only when connecting to networks with user configured subnets")
        if wanted:
            addr = ipam.parse_address(wanted)
            if addr not in ipaddress.ip_network(net.subnet):
                raise InvalidArgument(f"no configured subnet or ip-range contain the IP address {wanted}")

    # -- start and stop ----------------------------------------------------------------------------
    def sandbox_path(self, c: NetworkedContainer) -> str:
        return os.path.join(self.nets.settings.netns_dir, c.id)

    async def _new_endpoint(self, net: Network, c: NetworkedContainer, settings: dict[str, Any], ifname: str) -> Endpoint:
        cfg = net.subnet_config()
        wanted = ((settings.get("IPAMConfig") or {}).get("IPv4Address") or "")
        addr: ipam.IPAddress
        if net.driver == "overlay" and self.overlay is not None:  # claimed in the cluster store: unique across hosts
            addr = ipaddress.IPv4Address(await self.overlay.claim_address(net, c.id, wanted))
        else:
            in_use = [ipaddress.ip_address(ep.ip) for ep in net.endpoints.values() if ep.ip]
            addr = ipam.allocate(cfg, in_use, wanted)
        wanted6 = ((settings.get("IPAMConfig") or {}).get("IPv6Address") or "")
        addr6 = None
        if net.has_ipv6:
            in_use6 = [ipaddress.ip_address(ep.ip6) for ep in net.endpoints.values() if ep.ip6]
            addr6 = ipam.allocate(net.subnet6_config(), in_use6, wanted6)
        aliases = list(settings.get("Aliases") or [])
        if net.user_defined:
            # Docker's updateNetworkConfig: the short ID, then the configured hostname (compose's `hostname:`)
            hostname = c.config.get("Hostname") or ""
            aliases += [a for a in dict.fromkeys((c.id[:12], hostname)) if a and a not in aliases]
        host_ifname = f"{self.nets.settings.prefix}v{secrets.token_hex(4)}"[:15]
        links = link_aliases(settings.get("Links")) if net.user_defined else {}
        # Docker 20.10 gives Config.MacAddress (docker run --mac-address) to the first network's endpoint only
        mac = (c.config.get("MacAddress") if ifname == "eth0" else "") or ipam.mac_for(addr)
        return Endpoint(c.id, c.name, secrets.token_hex(32), str(addr), cfg.subnet.prefixlen, mac,
                        aliases, wanted, ifname, host_ifname if net.driver in ROUTED_DRIVERS else "", links,
                        ip6=str(addr6 or ""), prefixlen6=ipaddress.ip_network(net.subnet6).prefixlen if addr6 else 0,
                        ipam_ip6=wanted6 if addr6 else "")

    def _attachment(self, net: Network, ep: Endpoint, default_route: bool) -> netlink.Attachment:
        gateway = net.gateway if default_route and not net.internal else ""
        gateway6 = net.gateway6 if gateway and ep.ip6 else ""
        if net.driver == "macvlan":
            return netlink.Attachment("macvlan", ep.ifname, ep.ip, ep.prefixlen, ep.mac, gateway, parent=net.bridge,
                                      macvlan_mode=net.options.get("macvlan_mode", "bridge"))
        return netlink.Attachment("veth", ep.ifname, ep.ip, ep.prefixlen, ep.mac, gateway, bridge=net.bridge,
                                  host_ifname=ep.host_ifname, mtu=int(net.options.get(MTU_OPTION) or 0),
                                  address6=ep.ip6, prefixlen6=ep.prefixlen6, gateway6=gateway6)

    async def _join(self, net: Network, ep: Endpoint) -> None:
        if net.driver == "overlay" and self.overlay is not None:
            await self.overlay.join(net, ep)

    async def _leave(self, net: Network, ep: Endpoint) -> None:
        """After `ep` left `net.endpoints`."""
        if net.driver == "overlay" and self.overlay is not None:
            await self.overlay.leave(net, ep)

    @traced("network.attach")
    async def attach(self, c: NetworkedContainer) -> SandboxResult | None:
        """Create the container's namespace and endpoints; None for --network host or container:."""
        mode = c.host_config.get("NetworkMode") or "default"
        if mode == "host" or mode.startswith("container:"):
            return None
        path = self.sandbox_path(c)
        endpoints: list[tuple[Network, Endpoint]] = []
        attachments: list[netlink.Attachment] = []
        routed = False
        held: list[HeldPort] = []
        try:
            for index, (name, settings) in enumerate(c.networks.items()):
                net = self.nets.get(settings.get("NetworkID") or name)
                if net.driver in ("null", "host"):
                    continue
                ep = await self._new_endpoint(net, c, settings, f"eth{index}")
                net.endpoints[c.id] = ep  # reserves the address while the others are allocated
                endpoints.append((net, ep))
                attachments.append(self._attachment(net, ep, default_route=not routed))
                routed = routed or (bool(net.gateway) and not net.internal)
            for net, ep in endpoints:
                await self._join(net, ep)
            primary = next((n for n, _ in endpoints if n.driver in ROUTED_DRIVERS), None)
            if primary is not None and not primary.internal:
                requests = requests_from(c.host_config.get("PortBindings"), c.config.get("ExposedPorts"),
                                         bool(c.host_config.get("PublishAllPorts")))
                held = self.ports.allocate(requests)
            embedded = any(n.user_defined for n, _ in endpoints)
            socks = await netlink.in_fresh_thread(lambda: netlink.create_sandbox(path, attachments, embedded))
            await self._enable_ipv6_ports(attachments)
        except BaseException:
            for h in held:
                h.sock.close()
            for net, ep in endpoints:
                net.endpoints.pop(c.id, None)
                await self._leave(net, ep)
            raise
        for net, ep in endpoints:
            c.networks[net.name] = endpoint_settings(net, c.networks.get(net.name), ep)
            self.nets.save(net)
            self.nets.events.publish("network", "connect", net.id, {"container": c.id, "name": net.name, "type": net.driver})
        c.sandbox_key = path
        c.ports = self._port_map(held)
        if socks is not None:
            self.dns.serve(c.id, socks)
        self.upstream[c.id] = list(c.host_config.get("Dns") or [])
        primary_ep = next((ep for n, ep in endpoints if n.driver in ROUTED_DRIVERS), None)
        self._set_published(c, primary_ep.ip if primary_ep else "")
        if c.id in self.nets.published:
            await self.nets.apply_rules()
        first = [a for a in (endpoints[0][1].ip, endpoints[0][1].ip6) if a] if endpoints else []
        return SandboxResult(path, held, first, bool(socks))

    @staticmethod
    async def _enable_ipv6_ports(attachments: list[netlink.Attachment]) -> None:
        ports = [a.host_ifname for a in attachments if a.address6 and a.host_ifname]
        if ports:
            await netlink.in_fresh_thread(lambda: netlink.enable_ipv6(ports))

    @staticmethod
    def _port_map(held: list[HeldPort]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for h in held:
            out.setdefault(h.request.key, []).append({"HostIp": h.request.host_ip or "0.0.0.0", "HostPort": str(h.host_port)})
        return out

    def _set_published(self, c: NetworkedContainer, container_ip: str) -> None:
        rules = []
        for key, bindings in (c.ports or {}).items():
            port, _, proto = key.partition("/")
            for b in bindings or []:
                rules.append(ruleset.Published(proto or "tcp", b.get("HostIp", ""), int(b["HostPort"]), container_ip, int(port)))
        if rules and container_ip:
            self.nets.published[c.id] = rules
        else:
            self.nets.published.pop(c.id, None)

    async def detach(self, c: NetworkedContainer) -> None:
        """Undo `attach` (idempotent): DNS, DNAT rules, endpoints, the namespace."""
        self.dns.stop(c.id)
        self.upstream.pop(c.id, None)
        had_rules = self.nets.published.pop(c.id, None) is not None
        for net in list(self.nets.networks.values()):
            ep = net.endpoints.pop(c.id, None)
            if ep is not None:
                await self._leave(net, ep)
                # The veth pair goes with the namespace: the kernel destroys both once the
                # last reference (our bind mount) is gone, without making us wait for it.
                self.nets.save(net)
                self.nets.events.publish("network", "disconnect", net.id, {"container": c.id, "name": net.name, "type": net.driver})
                if net.name in c.networks:  # the run's address and MAC go with the endpoint
                    c.networks[net.name] = endpoint_settings(net, {**c.networks[net.name], "MacAddress": ""})
        c.ports = {}
        path = c.sandbox_key or self.sandbox_path(c)
        if os.path.exists(path):
            netlink.remove_sandbox_path(path)
        c.sandbox_key = ""
        if had_rules:
            await self.nets.apply_rules()

    async def restore(self, c: NetworkedContainer) -> None:
        """After an engine restart: a running container's endpoints, DNS sockets and rules."""
        path = c.sandbox_key
        if not path or not os.path.exists(path):
            return
        embedded = False
        primary_ip = ""
        for name, settings in c.networks.items():
            net = self.nets.find(settings.get("NetworkID") or name)
            if net is None or not settings.get("IPAddress"):
                continue
            ep = net.endpoints.get(c.id) or Endpoint(c.id, c.name, settings.get("EndpointID") or secrets.token_hex(32),
                                                     settings["IPAddress"], int(settings.get("IPPrefixLen") or 0),
                                                     settings.get("MacAddress") or "", list(settings.get("Aliases") or []),
                                                     links=link_aliases(settings.get("Links")) if net.user_defined else {},
                                                     ip6=settings.get("GlobalIPv6Address") or "",
                                                     prefixlen6=int(settings.get("GlobalIPv6PrefixLen") or 0),
                                                     ipam_ip6=(settings.get("IPAMConfig") or {}).get("IPv6Address") or "")
            ep.container_name = c.name
            net.endpoints[c.id] = ep
            embedded = embedded or net.user_defined
            if net.driver in ROUTED_DRIVERS and not primary_ip:
                primary_ip = ep.ip
        if embedded:
            socks = await netlink.in_fresh_thread(lambda: netlink.open_dns(path))
            self.dns.serve(c.id, socks)
        self.upstream[c.id] = list(c.host_config.get("Dns") or [])
        self._set_published(c, primary_ip)

    def forget_stale_endpoints(self, running: set[str]) -> None:
        for net in self.nets.networks.values():
            stale = [cid for cid in net.endpoints if cid not in running]
            for cid in stale:
                del net.endpoints[cid]
            if stale:
                self.nets.save(net)

    # -- connect / disconnect -------------------------------------------------------------------
    async def connect(self, net: Network, c: NetworkedContainer, config: dict[str, Any], running: bool) -> None:
        mode = c.host_config.get("NetworkMode") or "default"
        if mode == "host" or mode.startswith("container:"):
            raise Forbidden("container sharing network namespace with another container or host cannot be connected to any other network")
        if net.driver in ("null", "host"):
            raise Forbidden("container cannot be disconnected from host network or connected to host network")
        if net.name in c.networks and (not running or c.id in net.endpoints):
            raise Forbidden(f"endpoint with name {c.name} already exists in network {net.name}")
        if "none" in c.networks and running:
            raise Forbidden("container cannot be connected to multiple networks with one of the networks in private (none) mode")
        self._check_endpoint_config(net, config)
        c.networks[net.name] = endpoint_settings(net, config)
        if not running:
            return
        used = {ep.ifname for n in self.nets.networks.values() for cid, ep in n.endpoints.items() if cid == c.id}
        index = 0
        while f"eth{index}" in used:
            index += 1
        try:
            ep = await self._new_endpoint(net, c, c.networks[net.name], f"eth{index}")
        except BaseException:
            del c.networks[net.name]
            raise
        has_route = any(n.gateway and not n.internal for n in self.nets.networks.values() if c.id in n.endpoints)
        attachment = self._attachment(net, ep, default_route=not has_route)
        net.endpoints[c.id] = ep
        try:
            await self._join(net, ep)
            socks = await netlink.in_fresh_thread(
                lambda: netlink.connect(c.sandbox_key, attachment, net.user_defined and c.id not in self.dns.sockets))
            await self._enable_ipv6_ports([attachment])
        except BaseException:
            net.endpoints.pop(c.id, None)
            await self._leave(net, ep)
            del c.networks[net.name]
            raise
        if socks is not None:
            self.dns.serve(c.id, socks)
        c.networks[net.name] = endpoint_settings(net, config, ep)
        self.nets.save(net)

    async def disconnect(self, net: Network, c: NetworkedContainer, running: bool) -> None:
        if net.name not in c.networks:
            raise Forbidden(f"container {c.id} is not connected to network {net.name}")
        ep = net.endpoints.pop(c.id, None)
        if running and ep is not None:
            if ep.host_ifname:
                await netlink.in_fresh_thread(lambda: netlink.delete_link(ep.host_ifname))
            elif c.sandbox_key:
                await netlink.in_fresh_thread(lambda: netlink.disconnect(c.sandbox_key, ep.ifname))
            if c.id in self.nets.published and ep.ip in {r.container_ip for r in self.nets.published[c.id]}:
                self.nets.published.pop(c.id, None)
                c.ports = {}
                await self.nets.apply_rules()
        if ep is not None:
            await self._leave(net, ep)
        del c.networks[net.name]
        self.nets.save(net)

    # -- DNS --------------------------------------------------------------------------------------
    def _members(self, net: Network) -> list[Endpoint]:
        """The endpoints whose names the embedded DNS answers on `net`: local ones, and other hosts' on an overlay."""
        members = list(net.endpoints.values())
        if net.driver == "overlay" and self.overlay is not None:
            members += self.overlay.remote_endpoints(net)
        return members

    def resolve(self, cid: str, name: str, qtype: int) -> Answer:
        mine = [n for n in self.nets.networks.values() if cid in n.endpoints and n.user_defined]
        if qtype == dnsmsg.TYPE_PTR:
            ip = dnsmsg.ptr_to_ip(name)
            if ip:
                for net in mine:
                    for ep in self._members(net):
                        if ip in (ep.ip, ep.ip6):
                            return Answer(known=True, ptr=f"{ep.container_name}.{net.name}")
        addresses: list[str] = []
        addresses6: list[str] = []
        for net in mine:
            wanted = net.endpoints[cid].links.get(name, name)  # a link alias stands for its container's name
            for ep in self._members(net):
                names = {ep.container_name.lower(), ep.container_id[:12], *(a.lower() for a in ep.aliases)}
                qualified = {f"{n}.{net.name.lower()}" for n in names}
                if wanted in names or wanted in qualified:
                    if ep.ip and ep.ip not in addresses:
                        addresses.append(ep.ip)
                    if ep.ip6 and ep.ip6 not in addresses6:
                        addresses6.append(ep.ip6)
        if addresses or addresses6:
            return Answer(addresses=addresses, addresses6=addresses6, known=True)
        if mine and all(n.internal for n in mine):
            return Answer()
        return Answer(forward_to=self.upstream.get(cid) or host_nameservers())


def _is_ipv6(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 6
    except ValueError:
        return False


def host_nameservers() -> list[str]:
    try:
        with open("/etc/resolv.conf", encoding="utf-8", errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            out.append(words[1])
    return out

