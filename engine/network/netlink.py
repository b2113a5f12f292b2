"""The privileged network plumbing: network namespaces, bridges, veths, macvlans (pyroute2).

Every function here blocks and runs in a *fresh* thread (`in_fresh_thread`), never
on the event loop and never on a pooled thread: functions that enter a network
namespace do so with unshare/setns on their own thread, which then ends, so no
long-lived thread ever changes namespace (STYLE.md).

A container's namespace is a bind mount of its nsfs file at `<netns dir>/<id>`,
which runc joins by path. `create_sandbox` makes it, wires each attachment (a
veth whose host end joins a bridge, or a macvlan on a parent), brings up `lo`,
and opens the embedded DNS sockets (127.0.0.11:53) inside it when asked.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import errno
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from engine.errors import InvalidArgument, SystemFault

T = TypeVar("T")
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MNT_DETACH = 2
DNS_ADDRESS = "127.0.0.11"
IFA_F_NODAD = 0x02  # as Docker: an IPv6 address is usable at once, without duplicate address detection


@dataclass(frozen=True)
class Address:
    """An interface address: `address` ("" for none) with its prefix length."""

    address: str
    prefixlen: int


def _settle(fut: asyncio.Future[T], result: T) -> None:
    if not fut.done():  # the awaiting coroutine may have been cancelled meanwhile
        fut.set_result(result)


def _settle_with_error(fut: asyncio.Future[Any], error: BaseException) -> None:
    if not fut.done():
        fut.set_exception(error)


async def in_fresh_thread(fn: Callable[[], T]) -> T:
    """Run `fn` on a new thread that ends afterwards, and await its result."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()

    def run() -> None:
        try:
            result = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            loop.call_soon_threadsafe(_settle_with_error, fut, exc)
        else:
            loop.call_soon_threadsafe(_settle, fut, result)

    threading.Thread(target=run, name="netns", daemon=True).start()
    return await fut


def _fail(what: str) -> SystemFault:
    err = ctypes.get_errno()
    return SystemFault(f"{what}: {os.strerror(err)}")


def _enter(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise _fail(f"setns {path}")
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Attachment:
    """One interface to create in a container's namespace."""

    kind: str  # "veth" or "macvlan"
    ifname: str  # name inside the container (eth0, eth1, ...)
    address: str  # IPv4 address
    prefixlen: int
    mac: str
    gateway: str  # "" for no default route through this interface
    bridge: str = ""  # veth: the bridge its host end joins
    host_ifname: str = ""  # veth: the host end's name
    parent: str = ""  # macvlan: the parent interface
    macvlan_mode: str = "bridge"
    mtu: int = 0  # 0: the kernel's default (1500); less on a VXLAN overlay
    address6: str = ""  # on an IPv6-enabled network
    prefixlen6: int = 0
    gateway6: str = ""  # "" for no IPv6 default route through this interface


@dataclass
class DnsSockets:
    udp: socket.socket
    tcp: socket.socket


def _index(ipr: IPRoute, name: str) -> int:
    found = ipr.link_lookup(ifname=name)
    if not found:
        raise SystemFault(f"network interface {name} does not exist")
    return int(found[0])


def _attach(host: IPRoute, inside: IPRoute, ns_fd: int, a: Attachment) -> None:
    if a.kind == "veth":
        try:
            host.link("add", ifname=a.host_ifname, kind="veth", peer={"ifname": a.ifname, "net_ns_fd": ns_fd})
        except NetlinkError as exc:
            if exc.code == errno.EEXIST:
                host.link("del", ifname=a.host_ifname)
                host.link("add", ifname=a.host_ifname, kind="veth", peer={"ifname": a.ifname, "net_ns_fd": ns_fd})
            else:
                raise
        host_idx = _index(host, a.host_ifname)
        host.link("set", index=host_idx, master=_index(host, a.bridge))
        host.link("set", index=host_idx, state="up", **({"mtu": a.mtu} if a.mtu else {}))
        # A container reaching its own published port comes back through the same bridge port.
        write_sysctl(f"/sys/class/net/{a.host_ifname}/brport/hairpin_mode", "1")
    elif a.kind == "macvlan":
        tmp = f"mv{os.urandom(4).hex()}"
        host.link("add", ifname=tmp, kind="macvlan", link=_index(host, a.parent), macvlan_mode=a.macvlan_mode,
                  net_ns_fd=ns_fd)
        inside.link("set", index=_index(inside, tmp), ifname=a.ifname)
    idx = _index(inside, a.ifname)
    inside.link("set", index=idx, address=a.mac, **({"mtu": a.mtu} if a.mtu else {}))
    inside.addr("add", index=idx, address=a.address, prefixlen=a.prefixlen)
    if a.address6:
        # this thread is in the container's namespace, so /proc/sys/net is the container's
        for dev in ("lo", a.ifname):
            write_sysctl(f"/proc/sys/net/ipv6/conf/{dev}/disable_ipv6", "0")
        inside.addr("add", index=idx, address=a.address6, prefixlen=a.prefixlen6, flags=IFA_F_NODAD)
    inside.link("set", index=idx, state="up")
    if a.gateway:
        inside.route("add", dst="default", gateway=a.gateway, oif=idx)
    if a.address6 and a.gateway6:
        inside.route("add", dst="::/0", gateway=a.gateway6, oif=idx, family=socket.AF_INET6)


def _dns_sockets() -> DnsSockets:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    udp.bind((DNS_ADDRESS, 53))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((DNS_ADDRESS, 53))
    tcp.listen(64)
    udp.setblocking(False)
    tcp.setblocking(False)
    return DnsSockets(udp, tcp)


def create_sandbox(path: str, attachments: list[Attachment], dns: bool) -> DnsSockets | None:
    """Make a new network namespace at `path` with `lo` up and the given interfaces (fresh thread only)."""
    with open(path, "w"):
        pass
    host = IPRoute()
    try:
        if _libc.unshare(CLONE_NEWNET) != 0:
            raise _fail("unshare(CLONE_NEWNET)")
        me = f"/proc/self/task/{threading.get_native_id()}/ns/net"
        if _libc.mount(me.encode(), path.encode(), None, MS_BIND, None) != 0:
            raise _fail(f"bind mount of the network namespace to {path}")
        inside = IPRoute()
        ns_fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            inside.link("set", index=_index(inside, "lo"), state="up")
            for a in attachments:
                _attach(host, inside, ns_fd, a)
            return _dns_sockets() if dns else None
        finally:
            os.close(ns_fd)
            inside.close()
    except BaseException:
        for a in attachments:
            if a.host_ifname:
                try:
                    host.link("del", ifname=a.host_ifname)
                except NetlinkError:
                    pass
        remove_sandbox_path(path)
        raise
    finally:
        host.close()


def connect(path: str, attachment: Attachment, dns: bool) -> DnsSockets | None:
    """Add one interface to an existing namespace (fresh thread only)."""
    host = IPRoute()
    try:
        _enter(path)
        inside = IPRoute()
        ns_fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _attach(host, inside, ns_fd, attachment)
            return _dns_sockets() if dns else None
        finally:
            os.close(ns_fd)
            inside.close()
    finally:
        host.close()


def open_dns(path: str) -> DnsSockets:
    """Re-open the DNS sockets of a running container (after an engine restart)."""
    _enter(path)
    return _dns_sockets()


def disconnect(path: str, ifname: str) -> None:
    _enter(path)
    with IPRoute() as inside:
        found = inside.link_lookup(ifname=ifname)
        if found:
            inside.link("del", index=found[0])


def remove_sandbox_path(path: str) -> None:
    if _libc.umount2(path.encode(), MNT_DETACH) != 0 and ctypes.get_errno() not in (errno.EINVAL, errno.ENOENT):
        raise _fail(f"umount {path}")
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# -- host-side links (any thread) ---------------------------------------------------------
def ensure_bridge(name: str, gateway: Address, gateway6: Address | None = None, mtu: int = 1500) -> None:
    """The bridge `name`, up, carrying exactly the given gateway addresses (IPv6: global ones only)."""
    with IPRoute() as ipr:
        found = ipr.link_lookup(ifname=name)
        if not found:
            try:
                ipr.link("add", ifname=name, kind="bridge")
            except NetlinkError as exc:
                raise SystemFault(f"cannot create bridge {name}: {exc}") from None
            found = ipr.link_lookup(ifname=name)
        idx = found[0]
        if gateway.address:
            _set_only_address(ipr, idx, socket.AF_INET, gateway)
        if gateway6 is not None:
            write_sysctl(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6", "0")
        _set_only_address(ipr, idx, socket.AF_INET6, gateway6 or Address("", 0))
        ipr.link("set", index=idx, state="up", mtu=mtu)
    write_sysctl(f"/proc/sys/net/ipv4/conf/{name}/route_localnet", "1")


def _set_only_address(ipr: IPRoute, idx: int, family: int, want: Address) -> None:
    """Make `want` the interface's one address of `family` (link-local IPv6 ones are left alone)."""
    have = {(a.get_attr("IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr(index=idx, family=family)
            if family == socket.AF_INET or a["scope"] == 0}  # scope 0: global
    wanted = (want.address, want.prefixlen)
    for addr, plen in have - {wanted}:
        ipr.addr("del", index=idx, address=addr, prefixlen=plen)
    if want.address and wanted not in have:
        ipr.addr("add", index=idx, address=want.address, prefixlen=want.prefixlen,
                 **({"flags": IFA_F_NODAD} if family == socket.AF_INET6 else {}))


def enable_ipv6(names: list[str]) -> None:
    """Let host-side interfaces (bridge ports) carry IPv6, whatever the host's default (host thread)."""
    for name in names:
        write_sysctl(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6", "0")


def delete_link(name: str) -> bool:
    with IPRoute() as ipr:
        found = ipr.link_lookup(ifname=name)
        if not found:
            return False
        try:
            ipr.link("del", index=found[0])
        except NetlinkError as exc:
            if exc.code != errno.ENODEV:
                raise
        return True


def link_exists(name: str) -> bool:
    with IPRoute() as ipr:
        return bool(ipr.link_lookup(ifname=name))


def links_with_prefix(prefix: str) -> list[str]:
    with IPRoute() as ipr:
        names = [link.get_attr("IFLA_IFNAME") for link in ipr.get_links()]
    return [n for n in names if n and n.startswith(prefix)]


def host_routes() -> list[str]:
    """Destinations of the host's IPv4 routes, so a new subnet does not shadow one."""
    with IPRoute() as ipr:
        out = []
        for r in ipr.get_routes(family=socket.AF_INET):
            dst = r.get_attr("RTA_DST")
            if dst and r["dst_len"] > 0:
                out.append(f"{dst}/{r['dst_len']}")
        return out


def require_parent(name: str) -> None:
    if not link_exists(name):
        raise InvalidArgument(f"-o parent interface was not found on the host: {name}")


def write_sysctl(path: str, value: str) -> None:
    try:
        with open(path, "w", encoding="ascii") as f:
            f.write(value)
    except OSError:
        pass

