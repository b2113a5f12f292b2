"""IP address management (pure): subnets for networks, addresses for endpoints.

A network's subnet is either given (validated: a real CIDR, no overlap with
another network of this engine, gateway and ip-range inside it) or carved from
the engine's pool in fixed-size blocks. Addresses are handed out lowest first
from the ip-range (or the subnet), skipping the network, broadcast and gateway
addresses and those in use.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from engine.errors import Conflict, InvalidArgument

IPv4Network = ipaddress.IPv4Network
IPv4Address = ipaddress.IPv4Address


def parse_subnet(text: str) -> IPv4Network:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidArgument(f"invalid CIDR address: {text}") from None
    if not isinstance(net, IPv4Network):
        raise InvalidArgument(f"IPv6 subnets are not supported: {text}")
    if "/" not in text:
        raise InvalidArgument(f"invalid CIDR address: {text}")
    if ipaddress.ip_interface(text).ip != net.network_address:
        raise InvalidArgument(f"invalid subnet {text} : it should be {net}")
    if net.prefixlen > 30:
        raise InvalidArgument(f"subnet {text} is too small: a network needs at least a /30")
    return net


def parse_address(text: str, what: str = "address") -> IPv4Address:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidArgument(f"invalid {what}: {text}") from None
    if not isinstance(addr, IPv4Address):
        raise InvalidArgument(f"IPv6 {what}es are not supported: {text}")
    return addr


@dataclass(frozen=True)
class SubnetConfig:
    subnet: IPv4Network
    gateway: IPv4Address
    ip_range: IPv4Network | None = None


def validate_config(subnet: str, gateway: str = "", ip_range: str = "") -> SubnetConfig:
    net = parse_subnet(subnet)
    if gateway:
        gw = parse_address(gateway, "gateway")
        if gw not in net:
            raise InvalidArgument(f"no matching subnet for gateway {gateway}")
        if gw in (net.network_address, net.broadcast_address):
            raise InvalidArgument(f"gateway {gateway} cannot be the network or broadcast address of {subnet}")
    else:
        gw = net.network_address + 1
    rng = None
    if ip_range:
        rng = parse_subnet(ip_range)
        if not rng.subnet_of(net):
            raise InvalidArgument(f"no matching subnet for range {ip_range}")
    return SubnetConfig(net, gw, rng)


def overlapping(net: IPv4Network, others: Iterable[IPv4Network]) -> IPv4Network | None:
    for other in others:
        if net.overlaps(other):
            return other
    return None


def carve(pool: IPv4Network, prefix: int, used: Iterable[IPv4Network]) -> IPv4Network:
    """The first block of size /prefix in the pool that overlaps nothing in use."""
    taken = list(used)
    if prefix < pool.prefixlen:
        prefix = pool.prefixlen
    for candidate in pool.subnets(new_prefix=prefix):
        if overlapping(candidate, taken) is None:
            return candidate
    raise Conflict(f"could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network ({pool} is exhausted)")


def allocate(cfg: SubnetConfig, in_use: Iterable[IPv4Address], wanted: str = "") -> IPv4Address:
    used = set(in_use)
    net = cfg.subnet
    if wanted:
        addr = parse_address(wanted)
        if addr not in net:
            raise InvalidArgument(f"no configured subnet or ip-range contain the IP address {wanted}")
        if addr in used or addr == cfg.gateway or addr in (net.network_address, net.broadcast_address):
            raise Conflict(f"Address already in use: {wanted}")
        return addr
    space = cfg.ip_range or net
    for addr in space.hosts() if space.prefixlen < 31 else space:
        if addr in used or addr == cfg.gateway or addr in (net.network_address, net.broadcast_address):
            continue
        return addr
    raise Conflict(f"no available IPv4 addresses on this network's address pools: {net}")


def mac_for(addr: IPv4Address) -> str:
    """Docker's MAC address for a container IP: 02:42 followed by the IPv4 bytes."""
    b = addr.packed
    return "02:42:" + ":".join(f"{x:02x}" for x in b)
