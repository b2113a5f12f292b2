"""Overlay networks in the cluster store: key layout, records, transactions, and one engine's view (pure).

Keys, all under `PREFIX`:

    networks/<network id>                  the definition (name, subnet, gateway, VNI, ...)
    names/<name>                           the network id: a name is taken cluster-wide
    ipam/<network id>/<ip>                 an address claim: {Engine, Container}
    peers/<network id>/vtep/<engine id>    a host's tunnel end on the network: {Address, Port}
    peers/<network id>/ep/<ip>             a container on the network: {Engine, Container, Name, Aliases, MAC}

Definitions, names and claims carry no lease: they outlive an engine that is cut off
from the store, so nobody else hands out its network's subnet, name or its containers'
addresses while they still run. `peers/` keys carry their engine's lease: when an
engine is gone longer than the lease's TTL, the other hosts stop sending it traffic
and stop answering its containers' names. Every allocation is one transaction whose
compare fails when a concurrent one got there first (two hosts never get the same
subnet, VNI, name or address); the loser reads again and retries.

A `ClusterView` is this engine's copy of those keys: loaded from one range read,
then moved forward by watch events. `desired_peers` computes from it the VXLAN
forwarding (MAC → remote VTEP) and neighbour (IP → MAC) entries a host programs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.network import etcd
from engine.network.etcd import Event, KeyValue

PREFIX = "berth/v1/"
NETWORKS = PREFIX + "networks/"
NAMES = PREFIX + "names/"
IPAM = PREFIX + "ipam/"
PEERS = PREFIX + "peers/"
VNI_OPTION = "com.docker.network.driver.overlay.vxlanid_list"
FIRST_VNI = 4096  # as Docker's overlay driver
LAST_VNI = (1 << 24) - 1


def network_key(nid: str) -> str:
    return NETWORKS + nid


def name_key(name: str) -> str:
    return NAMES + name


def claim_key(nid: str, ip: str) -> str:
    return f"{IPAM}{nid}/{ip}"


def vtep_key(nid: str, engine: str) -> str:
    return f"{PEERS}{nid}/vtep/{engine}"


def endpoint_key(nid: str, ip: str) -> str:
    return f"{PEERS}{nid}/ep/{ip}"


def _encode(record: Any) -> bytes:
    return json.dumps(asdict(record), sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class OverlayDef:
    """An overlay network as every host sees it."""

    id: str
    name: str
    subnet: str
    gateway: str
    vni: int
    created_ns: int
    ip_range: str = ""
    internal: bool = False
    attachable: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        return _encode(self)

    @classmethod
    def decode(cls, raw: bytes) -> OverlayDef:
        return cls(**json.loads(raw))


@dataclass(frozen=True)
class Claim:
    engine: str
    container: str

    def encode(self) -> bytes:
        return _encode(self)


@dataclass(frozen=True)
class Vtep:
    address: str
    port: int

    def encode(self) -> bytes:
        return _encode(self)


@dataclass(frozen=True)
class PeerEndpoint:
    engine: str
    container: str
    name: str
    aliases: tuple[str, ...]
    ip: str
    mac: str

    def encode(self) -> bytes:
        return _encode(self)

    @classmethod
    def decode(cls, raw: bytes) -> PeerEndpoint:
        doc = json.loads(raw)
        doc["aliases"] = tuple(doc.get("aliases") or ())
        return cls(**doc)


@dataclass(frozen=True, order=True)
class Forwarding:
    """A bridge FDB entry on the VXLAN device: frames for `mac` go to the tunnel end `vtep:port`."""

    mac: str
    vtep: str
    port: int


@dataclass(frozen=True, order=True)
class Neighbour:
    """An ARP entry on the VXLAN device, which answers for `ip` (proxy) so no ARP crosses the tunnel."""

    ip: str
    mac: str


@dataclass(frozen=True)
class PeerTable:
    forwarding: frozenset[Forwarding] = frozenset()
    neighbours: frozenset[Neighbour] = frozenset()


@dataclass
class ClusterView:
    """This engine's copy of the overlay keys, as of `revision`."""

    revision: int = 0
    networks: dict[str, OverlayDef] = field(default_factory=dict)
    claims: dict[str, dict[str, Claim]] = field(default_factory=dict)
    vteps: dict[str, dict[str, Vtep]] = field(default_factory=dict)
    endpoints: dict[str, dict[str, PeerEndpoint]] = field(default_factory=dict)

    @classmethod
    def load(cls, revision: int, kvs: Iterable[KeyValue]) -> ClusterView:
        view = cls(revision)
        for kv in kvs:
            view._set(kv.key, kv.value)
        return view

    def apply(self, events: Iterable[Event]) -> tuple[bool, set[str]]:
        """Move forward by watch events: (did the set of networks change, networks whose peers changed)."""
        networks_changed = False
        peers_changed: set[str] = set()
        for e in events:
            self.revision = max(self.revision, e.kv.mod_revision)
            kind, nid = _classify(e.kv.key)
            if e.deleted:
                self._unset(e.kv.key)
            else:
                self._set(e.kv.key, e.kv.value)
            if kind == "network":
                networks_changed = True
            elif kind == "peer":
                peers_changed.add(nid)
        return networks_changed, peers_changed

    def _set(self, key: str, raw: bytes) -> None:
        try:
            if key.startswith(NETWORKS):
                d = OverlayDef.decode(raw)
                self.networks[d.id] = d
            elif key.startswith(IPAM):
                nid, ip = key[len(IPAM):].split("/", 1)
                self.claims.setdefault(nid, {})[ip] = Claim(**json.loads(raw))
            elif key.startswith(PEERS):
                nid, kind, name = key[len(PEERS):].split("/", 2)
                if kind == "vtep":
                    self.vteps.setdefault(nid, {})[name] = Vtep(**json.loads(raw))
                elif kind == "ep":
                    self.endpoints.setdefault(nid, {})[name] = PeerEndpoint.decode(raw)
        except (ValueError, TypeError, KeyError, AttributeError):
            pass  # a record this engine cannot read (another version's?): not one of ours to act on

    def _unset(self, key: str) -> None:
        if key.startswith(NETWORKS):
            self.networks.pop(key[len(NETWORKS):], None)
        elif key.startswith(IPAM):
            nid, _, ip = key[len(IPAM):].partition("/")
            self.claims.get(nid, {}).pop(ip, None)
        elif key.startswith(PEERS):
            nid, _, rest = key[len(PEERS):].partition("/")
            kind, _, name = rest.partition("/")
            table: dict[str, Any] = self.vteps.get(nid, {}) if kind == "vtep" else self.endpoints.get(nid, {})
            table.pop(name, None)

    def remote_endpoints(self, nid: str, me: str) -> list[PeerEndpoint]:
        return [ep for ep in self.endpoints.get(nid, {}).values() if ep.engine != me]


def _classify(key: str) -> tuple[str, str]:
    if key.startswith(NETWORKS):
        return "network", key[len(NETWORKS):]
    if key.startswith(PEERS):
        return "peer", key[len(PEERS):].partition("/")[0]
    if key.startswith(IPAM):
        return "claim", key[len(IPAM):].partition("/")[0]
    return "other", ""


def desired_peers(view: ClusterView, nid: str, me: str) -> PeerTable:
    """The FDB and neighbour entries for the remote containers of one network, as the VXLAN device should have them."""
    vteps = view.vteps.get(nid, {})
    forwarding, neighbours = set(), set()
    for ep in view.remote_endpoints(nid, me):
        vtep = vteps.get(ep.engine)
        if vtep is None:  # its host has not published its tunnel end (yet): nowhere to send to
            continue
        forwarding.add(Forwarding(ep.mac, vtep.address, vtep.port))
        neighbours.add(Neighbour(ep.ip, ep.mac))
    return PeerTable(frozenset(forwarding), frozenset(neighbours))


def choose_vni(taken: Iterable[int], wanted: int = 0) -> int:
    used = set(taken)
    if wanted:
        if not FIRST_VNI <= wanted <= LAST_VNI:
            raise ValueError(f"VXLAN id {wanted} is out of range {FIRST_VNI}-{LAST_VNI}")
        if wanted in used:
            raise ValueError(f"VXLAN id {wanted} is already in use")
        return wanted
    vni = FIRST_VNI
    while vni in used:
        vni += 1
    if vni > LAST_VNI:
        raise ValueError("no VXLAN id left")
    return vni


# -- transactions (pure: the JSON bodies of etcd txn calls) ---------------------------------------
Txn = tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]


def create_txn(d: OverlayDef, read_revision: int) -> Txn:
    """Write a new network unless another was created since our read, or the name is taken."""
    compare = [etcd.prefix_unchanged_since(NETWORKS, read_revision), etcd.key_absent(name_key(d.name))]
    success = [etcd.put_op(network_key(d.id), d.encode()), etcd.put_op(name_key(d.name), d.id.encode())]
    return compare, success, [etcd.range_op(name_key(d.name))]


def remove_txn(d: OverlayDef) -> Txn:
    """Remove a network and everything under it, unless some host still claims an address on it."""
    compare = [etcd.key_present(network_key(d.id)), etcd.prefix_empty(f"{IPAM}{d.id}/")]
    success = [etcd.delete_op(network_key(d.id)), etcd.delete_op(name_key(d.name)),
               etcd.delete_op(f"{PEERS}{d.id}/", prefix=True), etcd.delete_op(f"{IPAM}{d.id}/", prefix=True)]
    return compare, success, [etcd.range_op(network_key(d.id)), etcd.range_op(f"{IPAM}{d.id}/", prefix=True)]


def claim_txn(nid: str, ip: str, claim: Claim) -> Txn:
    """Claim an address unless someone has it, or the network is gone."""
    compare = [etcd.key_absent(claim_key(nid, ip)), etcd.key_present(network_key(nid))]
    return compare, [etcd.put_op(claim_key(nid, ip), claim.encode())], [etcd.range_op(network_key(nid))]


def release_txn(nid: str, ip: str, claim: Claim) -> Txn:
    """Give an address back, and withdraw its endpoint, if the claim is still ours."""
    compare = [etcd.value_is(claim_key(nid, ip), claim.encode())]
    return compare, [etcd.delete_op(claim_key(nid, ip)), etcd.delete_op(endpoint_key(nid, ip))], []
