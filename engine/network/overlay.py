"""Overlay networks across hosts: the driver behind `docker network create -d overlay` on an
engine started with `--cluster-store etcd://...` and `--cluster-advertise IP`.

The cluster store holds what all hosts share (see `cluster.py` for the keys): the
network definitions, address claims, and each host's tunnel end and containers.
Every engine keeps a local record of each overlay network (so list, inspect and
running containers work without the store) and, on a host with containers on a
network, a bridge and a VXLAN device (`vxlan.py`) whose peer entries follow the
store. Container addresses are claimed in the store, so no two hosts hand out
the same one; the embedded DNS answers for other hosts' containers from the
store's endpoint records.

Lifecycle: `start()` (after the engine restored its running containers) brings up
the devices of networks that have local containers and starts following the
store (`overlay_sync.py`); `stop()` stops following and leaves devices and keys in
place, as containers keep running: an engine back within the lease's TTL loses
nothing. While the store is unreachable, what needs it (create or remove an
overlay network, attach a container to one) fails with 503; what is local goes on.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from engine.errors import Conflict, Forbidden, InvalidArgument, NotFound, Unavailable
from engine.network import ipam, netlink, vxlan
from engine.network.cluster import (
    IPAM,
    NETWORKS,
    VNI_OPTION,
    Claim,
    ClusterView,
    OverlayDef,
    PeerEndpoint,
    Vtep,
    choose_vni,
    claim_txn,
    create_txn,
    desired_peers,
    endpoint_key,
    release_txn,
    remove_txn,
    vtep_key,
)
from engine.network.etcd import EtcdClient, StoreError, StoreUnavailable
from engine.network.model import Endpoint, Network
from engine.network.overlay_sync import ClusterSync
from engine.network.service import CreateOptions, NetworkService
from engine.util.timefmt import now_ns, rfc3339

log = logging.getLogger(__name__)
T = TypeVar("T")
MTU_OPTION = "com.docker.network.driver.mtu"
ATTEMPTS = 10
READY_WAIT = 5.0


@dataclass(frozen=True)
class OverlaySettings:
    store: str  # as given: etcd://host:port[,host:port]
    endpoints: tuple[str, ...]  # host:port of each etcd member
    advertise: str  # this host's tunnel end (an IPv4 address on the underlay)
    advertise_text: str  # as given (/info's ClusterAdvertise)
    engine_id: str
    vxlan_port: int = 4789
    pool: str = "10.0.0.0/8"
    block_prefix: int = 24
    lease_ttl: int = 10


class OverlayDriver:
    def __init__(self, settings: OverlaySettings, nets: NetworkService, client: EtcdClient | None = None) -> None:
        self.settings = settings
        self.nets = nets
        self.me = settings.engine_id
        self.client = client or EtcdClient(settings.endpoints)
        self.sync = ClusterSync(self.client, settings.lease_ttl, self)
        self.mtu = 1500 - vxlan.OVERHEAD
        self._devices = asyncio.Lock()  # kernel changes, one at a time
        self._membership: dict[str, asyncio.Lock] = {}  # per network: this host joining or leaving it
        self._claimed: dict[str, dict[str, str]] = {}  # network id → ip → container id: claims held or in flight
        self._task: asyncio.Task[None] | None = None

    async def _store(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.to_thread(fn, *args)

    async def _require_store(self) -> None:
        if not await self.sync.wait_ready(READY_WAIT):
            raise Unavailable(f"cluster store {self.settings.store} is unreachable ({self.sync.health.error}); "
                              "overlay networks cannot be changed or joined until it is back")

    # -- start and stop ------------------------------------------------------------------------
    async def start(self) -> None:
        underlay = await netlink.in_fresh_thread(lambda: vxlan.underlay_mtu(self.settings.advertise))
        if underlay:
            self.mtu = underlay - vxlan.OVERHEAD
        else:
            log.warning("--cluster-advertise %s is not an address of this host: VXLAN tunnels will not work",
                        self.settings.advertise)
        for net in self._overlays():
            for ep in net.endpoints.values():
                self._claimed.setdefault(net.id, {})[ep.ip] = ep.container_id
            if net.endpoints:
                try:
                    await self._ensure_devices(net)
                except Exception:  # the engine starts anyway; the containers on it lose their tunnel
                    log.exception("overlay %s: cannot bring up its devices", net.name)
        self._task = asyncio.get_running_loop().create_task(self.sync.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    # -- /info ---------------------------------------------------------------------------------
    def describe(self, info: dict[str, object]) -> None:
        """Docker 1.12's cluster fields, and a warning while the store is unreachable."""
        info["ClusterStore"] = self.settings.store
        info["ClusterAdvertise"] = self.settings.advertise_text
        health = self.sync.health
        state = "connected" if health.up else f"unreachable since {rfc3339(health.since_ns)}: {health.error}"
        info["SystemStatus"] = [["Cluster Store", self.settings.store], ["Cluster Store Status", state]]
        if not health.up:
            warnings = info.setdefault("Warnings", [])
            assert isinstance(warnings, list)
            warnings.append(f"WARNING: cluster store {self.settings.store} is unreachable since "
                            f"{rfc3339(health.since_ns)} ({health.error}); overlay networks keep their last known "
                            "peers, retrying")

    # -- local records and devices ---------------------------------------------------------------
    def _overlays(self) -> list[Network]:
        return [n for n in self.nets.networks.values() if n.driver == "overlay"]

    def _names(self, nid: str) -> tuple[str, str]:
        p = self.nets.settings.prefix
        return f"{p}o{nid[:14 - len(p)]}", f"{p}x{nid[:14 - len(p)]}"

    def _record(self, d: OverlayDef) -> Network:
        options = dict(d.options)
        options[VNI_OPTION] = str(d.vni)
        options.setdefault(MTU_OPTION, str(self.mtu))
        return Network(d.id, d.name, "overlay", d.created_ns, d.subnet, d.gateway, d.ip_range, d.internal,
                       d.attachable, dict(d.labels), options, bridge=self._names(d.id)[0])

    def _link(self, net: Network) -> vxlan.OverlayLink:
        cfg = net.subnet_config()
        return vxlan.OverlayLink(net.bridge, self._names(net.id)[1], int(net.options[VNI_OPTION]),
                                 self.settings.advertise, self.settings.vxlan_port, str(cfg.gateway),
                                 cfg.subnet.prefixlen, int(net.options.get(MTU_OPTION) or self.mtu))

    async def _ensure_devices(self, net: Network) -> None:
        link = self._link(net)
        async with self._devices:
            await netlink.in_fresh_thread(lambda: vxlan.ensure(link))

    async def _remove_devices(self, net: Network) -> None:
        link = self._link(net)
        async with self._devices:
            await netlink.in_fresh_thread(lambda: vxlan.remove(link))

    async def _program(self, net: Network) -> None:
        """Bring the VXLAN device's FDB and neighbour entries in line with the view."""
        if not net.endpoints:
            return
        desired = desired_peers(self.sync.view, net.id, self.me)
        name = self._names(net.id)[1]
        async with self._devices:
            added, removed = await netlink.in_fresh_thread(
                lambda: vxlan.sync_peers(name, desired, self.settings.vxlan_port))
        if added or removed:
            log.debug("overlay %s: %d peer entries added, %d removed", net.name, added, removed)

    # -- create and remove ---------------------------------------------------------------------
    async def create(self, opts: CreateOptions) -> Network:
        """Allocate the network in the store (name, subnet, VNI: one transaction) and record it here."""
        await self._require_store()
        try:
            wanted_vni = int(opts.options.get(VNI_OPTION) or 0)
        except ValueError:
            raise InvalidArgument(f"invalid {VNI_OPTION}: {opts.options[VNI_OPTION]}") from None
        for _attempt in range(ATTEMPTS):
            revision, kvs = await self._store(self.client.range, NETWORKS, True)
            existing = list(ClusterView.load(revision, kvs).networks.values())
            if any(d.name == opts.name for d in existing):
                raise Conflict(f"network with name {opts.name} already exists")
            cfg = await self._subnet_for(opts, existing)
            try:
                vni = choose_vni((d.vni for d in existing), wanted_vni)
            except ValueError as exc:
                raise Conflict(str(exc)) from None
            options = {k: v for k, v in opts.options.items() if k != VNI_OPTION}
            d = OverlayDef(secrets.token_hex(32), opts.name, str(cfg.subnet), str(cfg.gateway), vni, now_ns(),
                           str(cfg.ip_range) if cfg.ip_range else "", opts.internal, opts.attachable,
                           dict(opts.labels), options)
            result = await self._store(self.client.txn, *create_txn(d, revision))
            if result.succeeded:
                return self._record(d)
            if result.ranges and result.ranges[0]:
                raise Conflict(f"network with name {opts.name} already exists")
        raise Conflict("the cluster store kept changing while allocating the network; try again")

    async def _subnet_for(self, opts: CreateOptions, existing: list[OverlayDef]) -> ipam.SubnetConfig:
        taken = [ipaddress.IPv4Network(d.subnet) for d in existing]
        taken += [ipaddress.IPv4Network(n.subnet) for n in self.nets.networks.values() if n.subnet]
        if opts.subnet:
            cfg = ipam.validate_config(opts.subnet, opts.gateway, opts.ip_range)
            if ipam.overlapping(cfg.subnet, taken) is not None:
                raise Forbidden("Pool overlaps with other one on this address space")
            return cfg
        if opts.gateway or opts.ip_range:
            raise InvalidArgument("a gateway or ip-range needs a subnet")
        routes = await netlink.in_fresh_thread(netlink.host_routes)
        taken += [ipaddress.IPv4Network(r) for r in routes]
        pool = ipaddress.IPv4Network(self.settings.pool)
        return ipam.validate_config(str(ipam.carve(pool, self.settings.block_prefix, taken)))

    async def remove(self, net: Network) -> None:
        """Remove the network from the store, unless a container on any host is still on it."""
        await self._require_store()
        d = self.sync.view.networks.get(net.id) or OverlayDef(
            net.id, net.name, net.subnet, net.gateway, int(net.options.get(VNI_OPTION) or 0), net.created_ns)
        result = await self._store(self.client.txn, *remove_txn(d))
        if not result.succeeded and result.ranges[0]:
            raise Forbidden(f"error while removing network: network {net.name} id {net.id} has active endpoints")
        self.sync.view.networks.pop(net.id, None)
        self._membership.pop(net.id, None)
        await self._remove_devices(net)

    # -- endpoints -----------------------------------------------------------------------------
    async def claim_address(self, net: Network, container_id: str, wanted: str) -> str:
        """An address on the network that no host has handed out, claimed in the store for this container."""
        await self._require_store()
        cfg = net.subnet_config()
        held = self._claimed.setdefault(net.id, {})
        for _attempt in range(ATTEMPTS):
            _, kvs = await self._store(self.client.range, f"{IPAM}{net.id}/", True)
            in_use = {ipaddress.IPv4Address(kv.key.rsplit("/", 1)[1]) for kv in kvs}
            in_use |= {ipaddress.IPv4Address(ip) for ip in held}
            addr = str(ipam.allocate(cfg, in_use, wanted))
            held[addr] = container_id  # before the claim lands: a resync must not take it for stale
            try:
                result = await self._store(self.client.txn, *claim_txn(net.id, addr, Claim(self.me, container_id)))
            except BaseException:
                held.pop(addr, None)
                raise
            if result.succeeded:
                return addr
            held.pop(addr, None)
            if not result.ranges[0]:
                raise NotFound(f"network {net.name} not found")
            if wanted:
                raise Conflict(f"Address already in use: {wanted}")
        raise Conflict(f"could not claim an address on {net.name}: the cluster store kept changing; try again")

    def _peer(self, ep: Endpoint) -> PeerEndpoint:
        return PeerEndpoint(self.me, ep.container_id, ep.container_name, tuple(ep.aliases), ep.ip, ep.mac)

    async def join(self, net: Network, ep: Endpoint) -> None:
        """Before the container's veth is made: this host's devices, tunnel end and endpoint, published."""
        await self._require_store()
        async with self._membership.setdefault(net.id, asyncio.Lock()):
            await self._ensure_devices(net)
            lease = self.sync.lease
            await self._store(self.client.put, vtep_key(net.id, self.me), self._vtep().encode(), lease)
            await self._store(self.client.put, endpoint_key(net.id, ep.ip), self._peer(ep).encode(), lease)
            await self._program(net)

    def _vtep(self) -> Vtep:
        return Vtep(self.settings.advertise, self.settings.vxlan_port)

    async def leave(self, net: Network, ep: Endpoint) -> None:
        """After the endpoint left `net.endpoints`: withdraw it, give its address back, and drop the
        devices when it was the last one here. Never fails for the store: a later resync finishes."""
        self._claimed.get(net.id, {}).pop(ep.ip, None)
        async with self._membership.setdefault(net.id, asyncio.Lock()):
            if self.sync.ready.is_set():
                try:
                    await self._withdraw(net, ep)
                except (StoreUnavailable, StoreError) as exc:
                    log.warning("overlay %s: could not withdraw %s now (done once the store is back): %s",
                                net.name, ep.ip, exc)
            if not net.endpoints:
                await self._remove_devices(net)

    async def _withdraw(self, net: Network, ep: Endpoint) -> None:
        result = await self._store(self.client.txn, *release_txn(net.id, ep.ip, Claim(self.me, ep.container_id)))
        mine = self.sync.view.endpoints.get(net.id, {}).get(ep.ip)
        if not result.succeeded and mine is not None and mine.engine == self.me:
            await self._store(self.client.delete, endpoint_key(net.id, ep.ip))
        if not net.endpoints:
            await self._store(self.client.delete, vtep_key(net.id, self.me))

    def remote_endpoints(self, net: Network) -> list[Endpoint]:
        """Containers of other hosts on `net`, for the embedded DNS."""
        prefixlen = ipaddress.IPv4Network(net.subnet).prefixlen if net.subnet else 0
        return [Endpoint(p.container, p.name, "", p.ip, prefixlen, p.mac, list(p.aliases))
                for p in self.sync.view.remote_endpoints(net.id, self.me)]

    # -- following the store (overlay_sync.SyncListener) -----------------------------------------
    async def on_resync(self) -> None:
        await self._sync_records()
        await self._publish_own()
        for net in self._overlays():
            await self._program(net)

    async def on_events(self, networks_changed: bool, peers_changed: set[str]) -> None:
        if networks_changed:
            await self._sync_records()
        for nid in peers_changed:
            net = self.nets.networks.get(nid)
            if net is not None and net.driver == "overlay":
                await self._program(net)

    async def _sync_records(self) -> None:
        """Local records follow the store: new networks appear, removed ones go (once no container here uses them)."""
        view = self.sync.view
        changed = False
        for d in view.networks.values():
            if d.id not in self.nets.networks:
                net = self._record(d)
                self.nets.networks[d.id] = net
                self.nets.save(net)
                changed = True
        for net in self._overlays():
            if net.id in view.networks:
                continue
            if net.endpoints:
                log.warning("overlay network %s was removed from the cluster store while containers here use it",
                            net.name)
                continue
            await self._remove_devices(net)
            self._membership.pop(net.id, None)
            await self.nets.forget(net)
            changed = True
        if changed:
            await self.nets.apply_rules()

    async def _publish_own(self) -> None:
        """Under the round's new lease: this engine's tunnel ends and endpoints; drop what is no longer ours."""
        view, lease = self.sync.view, self.sync.lease
        for net in self._overlays():
            if net.id not in view.networks:
                continue
            if net.endpoints:
                await self._store(self.client.put, vtep_key(net.id, self.me), self._vtep().encode(), lease)
            elif self.me in view.vteps.get(net.id, {}):
                await self._store(self.client.delete, vtep_key(net.id, self.me))
            for ep in net.endpoints.values():
                await self._store(self.client.put, endpoint_key(net.id, ep.ip), self._peer(ep).encode(), lease)
            local_ips = {ep.ip for ep in net.endpoints.values()}
            for ip, peer in list(view.endpoints.get(net.id, {}).items()):
                if peer.engine == self.me and ip not in local_ips:
                    await self._store(self.client.delete, endpoint_key(net.id, ip))
        await self._reclaim()

    async def _reclaim(self) -> None:
        """Claims in the store match the addresses this engine holds: stale ones go, lost ones come back."""
        view = self.sync.view
        for nid, claims in view.claims.items():
            held = self._claimed.get(nid, {})
            for ip, claim in list(claims.items()):
                if claim.engine == self.me and ip not in held:
                    await self._store(self.client.txn, *release_txn(nid, ip, claim))
        for nid, held in self._claimed.items():
            for ip, container in list(held.items()):
                current = view.claims.get(nid, {}).get(ip)
                if nid not in view.networks or (current is not None and current.engine == self.me):
                    continue
                if current is None:
                    result = await self._store(self.client.txn, *claim_txn(nid, ip, Claim(self.me, container)))
                    if result.succeeded:
                        continue
                log.error("overlay network %s: address %s of container %s is claimed by another engine",
                          nid[:12], ip, container[:12])

