"""IP address management (pure): subnets for networks, addresses for endpoints.

A network's IPv4 subnet is either given (validated: a real CIDR, no overlap with
another network of this engine, gateway and ip-range inside it) or carved from
the engine's pool in fixed-size blocks. An IPv6 subnet (an IPv6-enabled bridge
network) is always given, as Docker has no default IPv6 pool. Addresses are
handed out lowest first from the ip-range (or the subnet), skipping the network,
broadcast (IPv4 only) and gateway addresses and those in use.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from engine.errors import Conflict, Forbidden, InvalidArgument, SystemFault

IPv4Network = ipaddress.IPv4Network
IPv4Address = ipaddress.IPv4Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NO_IPV6_POOL = "could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network"


def subnet_version(text: str) -> int:
    """4 or 6 for a CIDR (6 when it has a colon: what cannot parse fails later, in `parse_subnet`)."""
    return 6 if ":" in text else 4


def parse_subnet(text: str, version: int = 4) -> IPNetwork:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidArgument(f"invalid CIDR address: {text}") from None
    if "/" not in text:
        raise InvalidArgument(f"invalid CIDR address: {text}")
    if net.version != version:
        raise InvalidArgument(f"{text} is not an IPv{version} subnet")
    if ipaddress.ip_interface(text).ip != net.network_address:
        raise InvalidArgument(f"invalid subnet {text} : it should be {net}")
    if net.max_prefixlen - net.prefixlen < 2:
        raise InvalidArgument(f"subnet {text} is too small: a network needs at least a /{net.max_prefixlen - 2}")
    return net


def parse_address(text: str, what: str = "address", version: int = 4) -> IPAddress:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidArgument(f"invalid {what}: {text}") from None
    if addr.version != version:
        raise InvalidArgument(f"{text} is not an IPv{version} {what}")
    return addr


@dataclass(frozen=True)
class SubnetConfig:
    subnet: IPNetwork
    gateway: IPAddress
    ip_range: IPNetwork | None = None


def validate_config(subnet: str, gateway: str = "", ip_range: str = "") -> SubnetConfig:
    """A subnet with its gateway (given, or the first address) and ip-range, of either family."""
    version = subnet_version(subnet)
    net = parse_subnet(subnet, version)
    if gateway:
        gw = parse_address(gateway, "gateway", version)
        if gw not in net:
            raise InvalidArgument(f"no matching subnet for gateway {gateway}")
        if gw in (net.network_address, net.broadcast_address):
            raise InvalidArgument(f"gateway {gateway} cannot be the network or broadcast address of {subnet}")
    else:
        gw = net.network_address + 1
    rng = None
    if ip_range:
        rng = parse_subnet(ip_range, version)
        if not rng.subnet_of(net):  # type: ignore[arg-type]  # same family, checked above
            raise InvalidArgument(f"no matching subnet for range {ip_range}")
    return SubnetConfig(net, gw, rng)


def overlapping(net: IPNetwork, others: Iterable[IPNetwork]) -> IPNetwork | None:
    for other in others:
        if other.version == net.version and net.overlaps(other):
            return other
    return None


def carve(pool: IPv4Network, prefix: int, used: Iterable[IPNetwork]) -> IPv4Network:
    """The first block of size /prefix in the pool that overlaps nothing in use."""
    taken = list(used)
    if prefix < pool.prefixlen:
        prefix = pool.prefixlen
    for candidate in pool.subnets(new_prefix=prefix):
        if overlapping(candidate, taken) is None:
            return candidate
    raise Conflict(f"could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network ({pool} is exhausted)")


def allocate(cfg: SubnetConfig, in_use: Iterable[IPAddress], wanted: str = "") -> IPAddress:
    """An address of `cfg.subnet`: `wanted` if free, else the lowest free one of the ip-range or subnet.

    The errors are Docker's, which differ between its IPv4 checks (made when the
    container is created) and its IPv6 ones (made by IPAM at start or connect).
    """
    used = set(in_use)
    net = cfg.subnet
    # IPv6 has no broadcast address, and Docker hands out an IPv6 ip-range from its very first address
    reserved = (cfg.gateway, net.network_address) if net.version == 6 else (
        cfg.gateway, net.network_address, net.broadcast_address)
    if wanted:
        addr = parse_address(wanted, version=net.version)
        if addr not in net:
            if net.version == 6:
                raise SystemFault(f"Invalid address {wanted}: It does not belong to any of this network's subnets")
            raise InvalidArgument(f"no configured subnet or ip-range contain the IP address {wanted}")
        if addr in used or addr in reserved:
            raise Forbidden("Address already in use") if net.version == 6 else Conflict(f"Address already in use: {wanted}")
        return addr
    space = cfg.ip_range or net
    for addr in space.hosts() if net.version == 4 and space.prefixlen < 31 else space:
        if addr in used or addr in reserved:
            continue
        return addr
    raise Conflict(f"no available IPv{net.version} addresses on this network's address pools: {net}")


def mac_for(addr: IPAddress) -> str:
    """Docker's MAC address for a container IP: 02:42 followed by the IPv4 bytes."""
    b = addr.packed
    return "02:42:" + ":".join(f"{x:02x}" for x in b)
