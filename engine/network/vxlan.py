"""The privileged VXLAN plumbing of overlay networks on one host (pyroute2).

Per overlay network, on a host that has containers on it: a bridge holding the
network's gateway address (each host routes its own containers out, as the bridge
driver does) and the containers' veths, and a VXLAN device in that bridge: the
network's VNI, local address = the engine's advertise address, learning off, ARP
proxy on. Learning is off because the cluster store says where every MAC is:
`sync_peers` writes the device's FDB entries (MAC → remote VTEP) and neighbour
entries (IP → MAC), which the proxy answers from, so no ARP crosses the tunnel.

Every function blocks and works in the calling thread's namespace (the engine's
host namespace): call them through `netlink.in_fresh_thread`. `ensure` and
`remove` are idempotent; `sync_peers` is replayable (it reads what the kernel
has and changes only the difference).
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable
from dataclasses import dataclass

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import ndmsg

from engine.errors import SystemFault
from engine.network import netlink
from engine.network.cluster import Forwarding, Neighbour, PeerTable

OVERHEAD = 50  # outer IPv4 + UDP + VXLAN headers and the inner Ethernet header
NTF_SELF = 2
NUD_PERMANENT = ndmsg.states["permanent"]
NUD_NOARP = ndmsg.states["noarp"]


@dataclass(frozen=True)
class OverlayLink:
    bridge: str
    vxlan: str
    vni: int
    local: str  # this host's tunnel end (the advertise address)
    port: int  # UDP port of the tunnels
    gateway: str
    prefixlen: int
    mtu: int


def ensure(link: OverlayLink) -> None:
    """Create (or correct) the bridge and its VXLAN port, both up."""
    netlink.ensure_bridge(link.bridge, netlink.Address(link.gateway, link.prefixlen), mtu=link.mtu)
    with IPRoute() as ipr:
        found = ipr.link_lookup(ifname=link.vxlan)
        if found and _vxlan_config(ipr, found[0]) != (link.vni, link.local, link.port):
            ipr.link("del", index=found[0])
            found = []
        if not found:
            try:
                ipr.link("add", ifname=link.vxlan, kind="vxlan", vxlan_id=link.vni, vxlan_local=link.local,
                         vxlan_port=link.port, vxlan_learning=0, vxlan_proxy=1, mtu=link.mtu)
            except NetlinkError as exc:
                raise SystemFault(f"cannot create VXLAN device {link.vxlan} (VNI {link.vni}): {exc}") from None
            found = ipr.link_lookup(ifname=link.vxlan)
        ipr.link("set", index=found[0], master=ipr.link_lookup(ifname=link.bridge)[0], mtu=link.mtu, state="up")


def _vxlan_config(ipr: IPRoute, index: int) -> tuple[int, str, int]:
    info = ipr.get_links(index)[0].get_attr("IFLA_LINKINFO")
    data = info.get_attr("IFLA_INFO_DATA") if info is not None else None
    if data is None:
        return (0, "", 0)
    return (data.get_attr("IFLA_VXLAN_ID"), data.get_attr("IFLA_VXLAN_LOCAL"), data.get_attr("IFLA_VXLAN_PORT"))


def remove(link: OverlayLink) -> None:
    netlink.delete_link(link.vxlan)
    netlink.delete_link(link.bridge)


def read_peers(ipr: IPRoute, index: int, default_port: int) -> PeerTable:
    forwarding = set()
    for entry in ipr.fdb("dump", ifindex=index):
        dst = entry.get_attr("NDA_DST")
        if entry["ifindex"] == index and entry["flags"] & NTF_SELF and dst:
            forwarding.add(Forwarding(entry.get_attr("NDA_LLADDR"), dst, entry.get_attr("NDA_PORT") or default_port))
    neighbours = set()
    for entry in ipr.get_neighbours(family=socket.AF_INET, ifindex=index):
        if entry["state"] & NUD_PERMANENT and entry.get_attr("NDA_LLADDR"):
            neighbours.add(Neighbour(entry.get_attr("NDA_DST"), entry.get_attr("NDA_LLADDR")))
    return PeerTable(frozenset(forwarding), frozenset(neighbours))


def sync_peers(vxlan: str, desired: PeerTable, default_port: int) -> tuple[int, int]:
    """Make the device's remote entries `desired`; (added, removed). No device: nothing to do."""
    with IPRoute() as ipr:
        found = ipr.link_lookup(ifname=vxlan)
        if not found:
            return (0, 0)
        index = found[0]
        have = read_peers(ipr, index, default_port)
        gone_fdb = have.forwarding - desired.forwarding
        gone_neigh = have.neighbours - desired.neighbours
        for f in sorted(gone_fdb):
            _ignore_missing(ipr.fdb, "del", ifindex=index, lladdr=f.mac, dst=f.vtep)
        for n in sorted(gone_neigh):
            _ignore_missing(ipr.neigh, "del", ifindex=index, dst=n.ip, lladdr=n.mac)
        new_fdb = desired.forwarding - have.forwarding
        new_neigh = desired.neighbours - have.neighbours
        for f in sorted(new_fdb):
            ipr.fdb("replace", ifindex=index, lladdr=f.mac, dst=f.vtep, port=f.port, flags=NTF_SELF,
                    state=NUD_PERMANENT | NUD_NOARP)  # pyroute2 sets these for add, not for replace
        for n in sorted(new_neigh):
            ipr.neigh("replace", ifindex=index, dst=n.ip, lladdr=n.mac, state=NUD_PERMANENT)
        return (len(new_fdb) + len(new_neigh), len(gone_fdb) + len(gone_neigh))


def _ignore_missing(fn: Callable[..., object], *args: object, **kwargs: object) -> None:
    try:
        fn(*args, **kwargs)
    except NetlinkError as exc:
        if exc.code not in (errno.ENOENT, errno.ESRCH):
            raise


def underlay_mtu(address: str) -> int:
    """The MTU of the interface holding `address`; 0 when no interface here has it."""
    with IPRoute() as ipr:
        for a in ipr.get_addr(family=socket.AF_INET):
            if a.get_attr("IFA_ADDRESS") == address:
                link = ipr.get_links(a["index"])[0]
                return int(link.get_attr("IFLA_MTU") or 0)
    return 0
