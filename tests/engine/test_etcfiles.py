from __future__ import annotations

import pytest

from engine.containers import etcfiles
from engine.errors import InvalidArgument

HOST_RESOLV = "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch example.com\noptions edns0\n"


def test_loopback_resolvers_are_dropped() -> None:
    text = etcfiles.resolv_conf(HOST_RESOLV, [], [], [])
    assert "127.0.0.53" not in text
    assert "nameserver 10.0.0.2" in text
    assert "search example.com" in text


def test_only_loopback_falls_back_to_public_resolvers() -> None:
    text = etcfiles.resolv_conf("nameserver 127.0.0.1\n", [], [], [])
    assert text.startswith("nameserver 8.8.8.8\nnameserver 8.8.4.4")


def test_dns_flags_override() -> None:
    text = etcfiles.resolv_conf(HOST_RESOLV, ["1.1.1.1"], ["corp"], ["ndots:2"])
    assert text == "nameserver 1.1.1.1\nsearch corp\noptions ndots:2\n"


def test_hosts_file_has_localhost_extra_hosts_and_own_address() -> None:
    text = etcfiles.hosts_file("abc123", "", ["172.18.0.2"], [("db", "10.1.2.3")])
    assert text.startswith("127.0.0.1\tlocalhost\n")
    assert "10.1.2.3\tdb\n" in text
    assert text.endswith("172.18.0.2\tabc123\n")


def test_extra_host_parsing() -> None:
    assert etcfiles.parse_extra_host("db:10.0.0.1") == ("db", "10.0.0.1")
    assert etcfiles.parse_extra_host("gw:host-gateway", gateway="172.17.0.1") == ("gw", "172.17.0.1")
    with pytest.raises(InvalidArgument):
        etcfiles.parse_extra_host("db:not-an-ip")
