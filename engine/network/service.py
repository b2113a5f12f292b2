"""Networks: create, list, inspect, remove, prune; the engine's nftables table.

Records live in `<root>/network/<id>.json` (atomic writes). The Linux objects
(bridges, the nftables table, accept rules in Docker's DOCKER-USER chain) carry
the engine's prefix and are re-created at start (`start`), so setup can be
replayed; `teardown` removes everything this instance made.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import os
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.errors import Conflict, Forbidden, InvalidArgument, NotFound, SystemFault
from engine.events import EventBus
from engine.network import ipam, netlink, nftables, ruleset
from engine.network.model import BUILTIN, Network
from engine.util.filters import Filters
from engine.util.fs import atomic_write_json, read_json
from engine.util.timefmt import now_ns

log = logging.getLogger(__name__)
DRIVERS = ("bridge", "macvlan")
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"


@dataclass(frozen=True)
class NetworkSettings:
    root: str
    prefix: str
    pool: str
    table: str
    netns_dir: str
    block_prefix: int = 24


@dataclass(frozen=True)
class CreateOptions:
    name: str
    driver: str = "bridge"
    subnet: str = ""
    gateway: str = ""
    ip_range: str = ""
    internal: bool = False
    attachable: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    check_duplicate: bool = True
    ipam_options: dict[str, str] | None = None  # echoed in inspect, as Docker does
    ipam_config: list[dict[str, Any]] | None = None  # the request's IPAM.Config, echoed as given
    enable_ipv6: bool = False
    subnet6: str = ""
    gateway6: str = ""
    ip_range6: str = ""


class OverlayNetworks(Protocol):
    """What networks need of the overlay driver (engine/network/overlay.py), present with a cluster store."""

    async def create(self, opts: CreateOptions) -> Network: ...

    async def remove(self, net: Network) -> None: ...


class NetworkService:
    def __init__(self, settings: NetworkSettings, events: EventBus) -> None:
        self.settings = settings
        self.events = events
        self.dir = os.path.join(settings.root, "network")
        os.makedirs(self.dir, exist_ok=True)
        os.makedirs(settings.netns_dir, exist_ok=True)
        self.networks: dict[str, Network] = {}
        self.pool = ipaddress.IPv4Network(settings.pool)  # checked at start-up (engine.config)
        self._rules_lock = asyncio.Lock()
        self._docker_user_bridges: tuple[str, ...] | None = None
        # handles of our accept rules in Docker's DOCKER-USER chain; None while that chain is absent
        self._docker_user_handles: list[int] | None = None
        self.published: dict[str, list[ruleset.Published]] = {}  # container id → its DNAT rules
        self.overlay: OverlayNetworks | None = None

    # -- records -----------------------------------------------------------------------------
    def _path(self, net: Network) -> str:
        return os.path.join(self.dir, net.id + ".json")

    def save(self, net: Network) -> None:
        atomic_write_json(self._path(net), net.to_record())

    def _load(self) -> None:
        for name in os.listdir(self.dir):
            if not name.endswith(".json"):
                continue
            data = read_json(os.path.join(self.dir, name))
            if data:
                net = Network.from_record(data)
                self.networks[net.id] = net

    def default_bridge(self) -> Network:
        for net in self.networks.values():
            if net.default:
                return net
        raise NotFound("network bridge not found")

    def bridge_name(self, net_id: str, default: bool = False) -> str:
        p = self.settings.prefix
        return f"{p}0" if default else f"{p}b{net_id[:14 - len(p)]}"

    # -- start and stop ---------------------------------------------------------------------
    async def start(self) -> None:
        self._load()
        names = {n.name for n in self.networks.values()}
        if "bridge" not in names:
            subnet = ipam.carve(self.pool, self.settings.block_prefix, self._used_subnets())
            nid = secrets.token_hex(32)
            net = Network(nid, "bridge", "bridge", now_ns(), str(subnet), str(subnet.network_address + 1),
                          bridge=self.bridge_name(nid, default=True), default=True,
                          options={"com.docker.network.bridge.default_bridge": "true",
                                   "com.docker.network.bridge.enable_icc": "true",
                                   "com.docker.network.bridge.enable_ip_masquerade": "true",
                                   "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                                   BRIDGE_NAME_OPTION: self.bridge_name(nid, default=True),
                                   "com.docker.network.driver.mtu": "1500"})
            self.networks[nid] = net
            self.save(net)
        for name, driver in (("host", "host"), ("none", "null")):
            if name not in names:
                net = Network(secrets.token_hex(32), name, driver, now_ns())
                self.networks[net.id] = net
                self.save(net)
        netlink.write_sysctl("/proc/sys/net/ipv4/ip_forward", "1")
        for net in self.networks.values():
            if net.driver == "bridge" and net.bridge:
                await netlink.in_fresh_thread(functools.partial(netlink.ensure_bridge, net.bridge, *self._bridge_addresses(net)))
        await self.apply_rules()

    @staticmethod
    def _bridge_addresses(net: Network) -> tuple[netlink.Address, netlink.Address | None]:
        """The gateway addresses a bridge network's Linux bridge carries: IPv4, and IPv6 if enabled."""
        cfg = net.subnet_config()
        v4 = netlink.Address(str(cfg.gateway), cfg.subnet.prefixlen)
        if not net.has_ipv6:
            return v4, None
        cfg6 = net.subnet6_config()
        return v4, netlink.Address(str(cfg6.gateway), cfg6.subnet.prefixlen)

    async def teardown(self) -> None:
        """Remove every link, namespace and rule this instance made (engine cleanup)."""
        await nftables.apply(ruleset.delete_table(self.settings.table))
        await self._sync_docker_user([])
        for name in await netlink.in_fresh_thread(lambda: netlink.links_with_prefix(self.settings.prefix)):
            await netlink.in_fresh_thread(functools.partial(netlink.delete_link, name))
        for net in self.networks.values():
            if net.bridge and net.driver == "bridge":
                await netlink.in_fresh_thread(functools.partial(netlink.delete_link, net.bridge))
        for entry in os.listdir(self.settings.netns_dir):
            netlink.remove_sandbox_path(os.path.join(self.settings.netns_dir, entry))

    # -- the nftables table ------------------------------------------------------------------
    def bridges(self) -> list[ruleset.BridgeNet]:
        return [ruleset.BridgeNet(n.bridge, n.subnet, n.internal, n.subnet6 if n.has_ipv6 else "")
                for n in self.networks.values() if n.driver in ("bridge", "overlay") and n.bridge and n.subnet]

    async def apply_rules(self) -> None:
        """Replace our table and, when the bridges changed, our DOCKER-USER rules: one transaction."""
        async with self._rules_lock:
            rules = [r for rs in self.published.values() for r in rs]
            table = self.settings.table
            script = (ruleset.replace_table(table, ruleset.build(table, self.bridges(), rules))
                      + ruleset.replace_table(table, ruleset.build6(table, self.bridges()), "ip6"))
            bridges = tuple(sorted(b.bridge for b in self.bridges()))
            if bridges == self._docker_user_bridges:
                await nftables.apply(script)
                return
            if self._docker_user_bridges is None:  # first time: learn what is in Docker's chain
                await self._read_docker_user()
            try:
                await self._apply_with_docker_user(script, list(bridges))
            except SystemFault:
                await self._read_docker_user()  # Docker changed its chain under us: look again, once
                await self._apply_with_docker_user(script, list(bridges))
            self._docker_user_bridges = bridges

    def _docker_user_comment(self) -> str:
        return f"berth:{self.settings.table}"

    async def _read_docker_user(self) -> None:
        rules = await nftables.chain_rules("ip", "filter", "DOCKER-USER")
        comment = self._docker_user_comment()
        self._docker_user_handles = (
            None if rules is None
            else [int(r["handle"]) for r in rules if r.get("comment") == comment])  # type: ignore[call-overload]

    async def _apply_with_docker_user(self, script: str, bridges: list[str]) -> None:
        if self._docker_user_handles is None:
            await nftables.apply(script)  # no Docker engine on this host: its FORWARD policy is not in the way
            return
        comment = self._docker_user_comment()
        script += ruleset.docker_user_rules(comment, bridges, self._docker_user_handles)
        if script:
            self._docker_user_handles = ruleset.echoed_handles(await nftables.apply(script, echo=True), comment)

    async def _sync_docker_user(self, bridges: list[str], only_if_missing: bool = False) -> None:
        """Bring our DOCKER-USER rules in line with `bridges` (after looking at the chain)."""
        await self._read_docker_user()
        if self._docker_user_handles is None:
            return
        if only_if_missing and len(self._docker_user_handles) == 2 * len(bridges):
            return
        await self._apply_with_docker_user("", bridges)

    async def watch_docker(self, interval: float = 5.0) -> None:
        """Docker may start after us and set FORWARD to DROP: keep our accept rules in its chain."""
        while True:
            await asyncio.sleep(interval)
            try:
                async with self._rules_lock:
                    await self._sync_docker_user(sorted(b.bridge for b in self.bridges()), only_if_missing=True)
            except Exception:  # try again next time
                log.warning("could not update Docker's DOCKER-USER chain", exc_info=True)

    # -- lookups ------------------------------------------------------------------------------
    def find(self, ref: str) -> Network | None:
        if not ref:
            return None
        if ref in self.networks:
            return self.networks[ref]
        for net in self.networks.values():
            if net.name == ref:
                return net
        matches = [n for i, n in self.networks.items() if i.startswith(ref)]
        return matches[0] if len(matches) == 1 else None

    def get(self, ref: str) -> Network:
        net = self.find(ref)
        if net is None:
            raise NotFound(f"network {ref} not found")
        return net

    def _used_subnets(self) -> list[ipam.IPNetwork]:
        return [ipaddress.IPv4Network(n.subnet) for n in self.networks.values() if n.subnet]

    def _used_subnets6(self) -> list[ipam.IPNetwork]:
        return [ipaddress.IPv6Network(n.subnet6) for n in self.networks.values() if n.subnet6]

    @staticmethod
    def _refuse_ipv6(opts: CreateOptions, driver: str) -> None:
        if (opts.enable_ipv6 or opts.subnet6) and driver != "bridge":
            raise InvalidArgument(f"IPv6 is not supported on {driver} networks by this engine: "
                                  "only bridge networks can be IPv6-enabled")

    def _subnet6(self, opts: CreateOptions, driver: str) -> ipam.SubnetConfig | None:
        """The IPv6 subnet of a new network, if it has one. Docker has no default IPv6 pool."""
        self._refuse_ipv6(opts, driver)
        if not opts.subnet6:
            if opts.enable_ipv6:
                raise NotFound(ipam.NO_IPV6_POOL)
            return None
        cfg = ipam.validate_config(opts.subnet6, opts.gateway6, opts.ip_range6)
        if ipam.overlapping(cfg.subnet, self._used_subnets6()) is not None:
            raise Forbidden("Pool overlaps with other one on this address space")
        return cfg

    # -- create / remove ------------------------------------------------------------------------
    async def create(self, opts: CreateOptions) -> Network:
        if not opts.name.strip():  # Docker (libnetwork's IsValidName) accepts any name that is not blank
            raise InvalidArgument(f"invalid name: {opts.name}")
        if opts.name in BUILTIN:
            raise Forbidden(f"{opts.name} is a pre-defined network and cannot be created")
        if any(n.name == opts.name for n in self.networks.values()):
            raise Conflict(f"network with name {opts.name} already exists")
        driver = opts.driver or "bridge"
        if driver == "overlay":
            self._refuse_ipv6(opts, driver)
        if driver == "overlay" and self.overlay is not None:
            return await self._register(await self.overlay.create(opts))
        if driver == "overlay":
            raise InvalidArgument("overlay networks need a cluster store: start the engine with "
                                  "--cluster-store etcd://HOST:PORT and --cluster-advertise IP")
        if driver not in DRIVERS:
            raise NotFound(f"plugin \"{driver}\" not found") if driver != "ipvlan" else \
                InvalidArgument(f"driver {driver} is not supported by this engine")
        cfg6 = self._subnet6(opts, driver)
        nid = secrets.token_hex(32)
        if opts.subnet:
            cfg = ipam.validate_config(opts.subnet, opts.gateway, opts.ip_range)
            clash = ipam.overlapping(cfg.subnet, self._used_subnets())
            if clash is not None:
                raise Forbidden("Pool overlaps with other one on this address space")
        else:
            if opts.gateway or opts.ip_range:
                raise InvalidArgument("a gateway or ip-range needs a subnet")
            host: list[ipam.IPNetwork] = [ipaddress.IPv4Network(r) for r in await netlink.in_fresh_thread(netlink.host_routes)]
            subnet = ipam.carve(self.pool, self.settings.block_prefix, self._used_subnets() + host)
            cfg = ipam.validate_config(str(subnet))
        options = dict(opts.options)
        bridge = ""
        if driver == "bridge":
            bridge = options.get(BRIDGE_NAME_OPTION) or self.bridge_name(nid)
            if len(bridge) > 15 or not re.match(r"^[a-zA-Z0-9_.-]+$", bridge):
                raise InvalidArgument(f"invalid bridge name {bridge!r}")
            if any(n.bridge == bridge for n in self.networks.values()):
                raise Conflict(f"bridge name {bridge} is already used by another network")
        else:
            parent = options.get("parent", "")
            if not parent:
                raise InvalidArgument("macvlan needs a parent interface: -o parent=IFACE")
            await netlink.in_fresh_thread(lambda: netlink.require_parent(parent))
            bridge = parent
            mode = options.get("macvlan_mode", "bridge")
            if mode not in ("bridge", "private", "vepa", "passthru"):
                raise InvalidArgument(f"unknown macvlan mode: {mode}")
        net = Network(nid, opts.name, driver, now_ns(), str(cfg.subnet), str(cfg.gateway),
                      str(cfg.ip_range) if cfg.ip_range else "", opts.internal, opts.attachable,
                      dict(opts.labels), options, bridge, ipam_options=opts.ipam_options, ipam_config=opts.ipam_config,
                      enable_ipv6=opts.enable_ipv6, subnet6=str(cfg6.subnet) if cfg6 else "",
                      gateway6=str(cfg6.gateway) if cfg6 else "", ip_range6=str(cfg6.ip_range or "") if cfg6 else "")
        if driver == "bridge":
            await netlink.in_fresh_thread(lambda: netlink.ensure_bridge(bridge, *self._bridge_addresses(net)))
        return await self._register(net)

    async def _register(self, net: Network) -> Network:
        self.networks[net.id] = net
        self.save(net)
        try:
            await self.apply_rules()
        except Exception:
            await self._drop(net)
            raise
        self.events.publish("network", "create", net.id, {"name": net.name, "type": net.driver})
        return net

    async def _drop(self, net: Network) -> None:
        self.networks.pop(net.id, None)
        try:
            os.unlink(self._path(net))
        except FileNotFoundError:
            pass
        if net.driver == "bridge" and net.bridge:
            await netlink.in_fresh_thread(lambda: netlink.delete_link(net.bridge))

    async def remove(self, net: Network) -> None:
        if not net.user_defined:
            raise Forbidden(f"{net.name} is a pre-defined network and cannot be removed")
        if net.endpoints:
            raise Forbidden(f"error while removing network: network {net.name} id {net.id} has active endpoints")
        if net.driver == "overlay" and self.overlay is not None:
            await self.overlay.remove(net)  # everywhere: the other engines follow the store
        await self._drop(net)
        await self.apply_rules()
        self.events.publish("network", "destroy", net.id, {"name": net.name, "type": net.driver})

    async def forget(self, net: Network) -> None:
        """Drop the record of a network removed elsewhere (an overlay network, by another engine)."""
        await self._drop(net)

    async def prune(self, filters: Filters, in_use: set[str]) -> list[str]:
        filters.validate({"until", "label", "label!"})
        until = filters.time_value("until")
        removed = []
        for net in list(self.networks.values()):
            if not net.user_defined or net.endpoints or net.name in in_use or net.id in in_use:
                continue
            if until is not None and net.created_ns >= until:
                continue
            if not filters.match_labels(net.labels):
                continue
            try:
                await self.remove(net)
            except Forbidden:  # an overlay network with containers on other hosts
                continue
            removed.append(net.name)
        return removed

    def list(self, filters: Filters) -> list[Network]:
        filters.validate({"driver", "id", "label", "label!", "name", "scope", "type", "dangling"})
        out = []
        for net in sorted(self.networks.values(), key=lambda n: n.created_ns):
            if filters.has("driver") and {"none": "null"}.get(net.driver, net.driver) not in filters.values("driver"):
                continue
            if filters.has("id") and not any(net.id.startswith(v) for v in filters.values("id")):
                continue
            if filters.has("name") and not any(v in net.name for v in filters.values("name")):
                continue
            if filters.has("scope") and net.scope not in filters.values("scope"):
                continue
            if filters.has("type"):
                kind = "custom" if net.user_defined else "builtin"
                if kind not in filters.values("type"):
                    continue
            dangling = filters.bool_value("dangling", None)
            if dangling is not None and (dangling != (not net.endpoints and net.user_defined)):
                continue
            if not filters.match_labels(net.labels):
                continue
            out.append(net)
        return out

    @staticmethod
    def create_options(body: Any) -> CreateOptions:
        if not isinstance(body, dict):
            raise InvalidArgument("invalid network config: expected a JSON object")
        for key, kind in (("Name", str), ("Driver", str), ("Internal", bool), ("Attachable", bool)):
            if key in body and body[key] is not None and not isinstance(body[key], kind):
                raise InvalidArgument(f"json: cannot unmarshal into Go struct field NetworkCreateRequest.{key}")
        ipam_doc = body.get("IPAM") or {}
        configs = ipam_doc.get("Config") or []
        if not isinstance(configs, list) or not all(isinstance(c, dict) for c in configs):
            raise InvalidArgument("IPAM.Config must be a list of objects")
        v6 = [c for c in configs if ipam.subnet_version(str(c.get("Subnet") or "")) == 6]
        v4 = [c for c in configs if c not in v6]
        if len(v4) > 1:
            raise InvalidArgument("only one IPv4 subnet per network is supported")
        if len(v6) > 1:
            raise Forbidden("bridge driver doesn't support multiple subnets")
        cfg = v4[0] if v4 else {}
        cfg6 = v6[0] if v6 else {}
        labels = body.get("Labels") or {}
        options = body.get("Options") or {}
        if not isinstance(labels, dict) or not isinstance(options, dict):
            raise InvalidArgument("Labels and Options must be objects")
        return CreateOptions(
            name=body.get("Name") or "", driver=body.get("Driver") or "bridge", subnet=cfg.get("Subnet") or "",
            gateway=cfg.get("Gateway") or "", ip_range=cfg.get("IPRange") or "", internal=bool(body.get("Internal")),
            attachable=bool(body.get("Attachable")), labels={str(k): str(v) for k, v in labels.items()},
            options={str(k): str(v) for k, v in options.items()},
            ipam_options=None if ipam_doc.get("Options") is None else {str(k): str(v) for k, v in ipam_doc["Options"].items()},
            ipam_config=[dict(c) for c in configs] or None, enable_ipv6=bool(body.get("EnableIPv6")),
            subnet6=cfg6.get("Subnet") or "", gateway6=cfg6.get("Gateway") or "", ip_range6=cfg6.get("IPRange") or "",
        )
