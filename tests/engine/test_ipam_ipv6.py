"""IPv6 in the pure network code: IPAM, the network's Docker JSON, AAAA and ip6.arpa in DNS."""

from __future__ import annotations

import ipaddress
import struct

import pytest

from engine.errors import Conflict, Forbidden, InvalidArgument, NotFound, SystemFault
from engine.network import dnsmsg, ipam
from engine.network.model import Endpoint, Network
from engine.network.service import NetworkService


def test_ipam_v6_gateway_and_range() -> None:
    cfg = ipam.validate_config("2001:db8:1::/64")
    assert str(cfg.gateway) == "2001:db8:1::1"
    assert str(ipam.allocate(cfg, [])) == "2001:db8:1::2"
    ranged = ipam.validate_config("2001:db8:1::/64", "2001:db8:1::fe", "2001:db8:1::100/120")
    assert str(ipam.allocate(ranged, [])) == "2001:db8:1::100"  # Docker starts IPv6 ranges at their first address
    taken = [ipaddress.ip_address("2001:db8:1::100")]
    assert str(ipam.allocate(ranged, taken)) == "2001:db8:1::101"
    assert str(ipam.allocate(ranged, taken, "2001:db8:1::5")) == "2001:db8:1::5"  # in the subnet, outside the range


def test_ipam_v6_refusals_are_dockers() -> None:
    cfg = ipam.validate_config("2001:db8:1::/64")
    with pytest.raises(SystemFault, match="Invalid address 2001:db8:2::5: It does not belong to any of this network's subnets"):
        ipam.allocate(cfg, [], "2001:db8:2::5")
    with pytest.raises(Forbidden, match=r"^Address already in use$"):
        ipam.allocate(cfg, [ipaddress.ip_address("2001:db8:1::9")], "2001:db8:1::9")
    with pytest.raises(Forbidden):
        ipam.allocate(cfg, [], "2001:db8:1::1")  # the gateway
    tiny = ipam.validate_config("2001:db8:1::/126")
    used = [ipaddress.ip_address(f"2001:db8:1::{i}") for i in (2, 3)]
    with pytest.raises(Conflict, match="no available IPv6 addresses"):
        ipam.allocate(tiny, used)
    with pytest.raises(InvalidArgument, match="no matching subnet for gateway"):
        ipam.validate_config("2001:db8:1::/64", "2001:db8:2::1")
    with pytest.raises(InvalidArgument, match="is not an IPv6 gateway"):
        ipam.validate_config("2001:db8:1::/64", "10.0.0.1")
    with pytest.raises(InvalidArgument, match="it should be 2001:db8:1::/64"):
        ipam.validate_config("2001:db8:1::5/64")


def test_ipam_families_do_not_overlap_each_other() -> None:
    v4 = ipaddress.ip_network("10.0.0.0/8")
    v6 = ipaddress.ip_network("2001:db8::/32")
    assert ipam.overlapping(v6, [v4]) is None
    assert ipam.overlapping(ipaddress.ip_network("2001:db8:5::/64"), [v4, v6]) == v6


def test_create_options_split_ipam_config_by_family() -> None:
    opts = NetworkService.create_options({"Name": "n", "EnableIPv6": True, "IPAM": {"Config": [
        {"Subnet": "2001:db8:1::/64", "Gateway": "2001:db8:1::fe"}, {"Subnet": "10.9.0.0/24"}]}})
    assert (opts.enable_ipv6, opts.subnet6, opts.gateway6, opts.subnet) == (True, "2001:db8:1::/64", "2001:db8:1::fe", "10.9.0.0/24")
    with pytest.raises(Forbidden, match="bridge driver doesn't support multiple subnets"):
        NetworkService.create_options({"Name": "n", "EnableIPv6": True, "IPAM": {"Config": [
            {"Subnet": "2001:db8:1::/64"}, {"Subnet": "2001:db8:2::/64"}]}})


def test_no_ipv6_pool_is_dockers_404() -> None:
    assert NotFound(ipam.NO_IPV6_POOL).status == 404


def test_network_json_lists_ipv4_then_ipv6() -> None:
    net = Network("i" * 64, "n6", "bridge", 0, "10.9.0.0/24", "10.9.0.1", bridge="br", enable_ipv6=True,
                  subnet6="2001:db8:1::/64", gateway6="2001:db8:1::1", ipam_config=[{"Subnet": "2001:db8:1::/64", "Gateway": ""}])
    net.endpoints["c"] = Endpoint("c", "ctr", "e", "10.9.0.2", 24, "02:42:0a:09:00:02", ip6="2001:db8:1::2", prefixlen6=64)
    doc = net.to_json(with_containers=True)
    assert doc["EnableIPv6"] is True
    assert doc["IPAM"]["Config"] == [{"Subnet": "10.9.0.0/24", "Gateway": "10.9.0.1"}, {"Subnet": "2001:db8:1::/64"}]
    assert doc["Containers"]["c"]["IPv6Address"] == "2001:db8:1::2/64"
    plain = Network("p" * 64, "n4", "bridge", 0, "10.8.0.0/24", "10.8.0.1")
    assert plain.to_json(False)["IPAM"]["Config"] == [{"Subnet": "10.8.0.0/24", "Gateway": "10.8.0.1"}]
    assert Network.from_record(net.to_record()).to_json(True) == doc


def _query(name: str, qtype: int) -> dnsmsg.Query:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    data = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0) + labels + struct.pack(">HH", qtype, dnsmsg.CLASS_IN)
    return dnsmsg.parse_query(data)


def test_dns_aaaa_answer_and_ip6_ptr() -> None:
    q = _query("web", dnsmsg.TYPE_AAAA)
    out = dnsmsg.reply(q, aaaa_records=["2001:db8:1::99"])
    assert struct.unpack(">H", out[6:8])[0] == 1  # one answer
    assert out.endswith(struct.pack(">HHIH", dnsmsg.TYPE_AAAA, dnsmsg.CLASS_IN, dnsmsg.TTL, 16)
                        + ipaddress.IPv6Address("2001:db8:1::99").packed)
    rev = ipaddress.ip_address("2001:db8:1::99").reverse_pointer
    assert dnsmsg.ptr_to_ip(rev) == "2001:db8:1::99"
    assert dnsmsg.ptr_to_ip("1.2.ip6.arpa") is None
    assert dnsmsg.ptr_to_ip("2.0.18.172.in-addr.arpa") == "172.18.0.2"
