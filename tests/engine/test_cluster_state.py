"""The overlay's pure parts: the cluster view, the peer entries it asks for, allocations, transactions, flags."""

from __future__ import annotations

import base64

import pytest

from engine.config import ConfigError, parse_cluster
from engine.network import etcd
from engine.network.cluster import (
    FIRST_VNI,
    Claim,
    ClusterView,
    Forwarding,
    Neighbour,
    OverlayDef,
    PeerEndpoint,
    Vtep,
    choose_vni,
    claim_key,
    claim_txn,
    create_txn,
    desired_peers,
    endpoint_key,
    network_key,
    remove_txn,
    vtep_key,
)
from engine.network.etcd import Event, KeyValue

NID = "n" * 64
ME, OTHER, THIRD = "ENGINE:ME", "ENGINE:OTHER", "ENGINE:THIRD"


def kv(key: str, value: bytes = b"", revision: int = 1) -> KeyValue:
    return KeyValue(key, value, revision, revision)


def ep(engine: str, ip: str, name: str) -> PeerEndpoint:
    last = int(ip.rsplit(".", 1)[1])
    return PeerEndpoint(engine, name + "-id", name, (name + "-alias",), ip, f"02:42:0a:00:00:{last:02x}")


def loaded() -> ClusterView:
    d = OverlayDef(NID, "ov1", "10.0.0.0/24", "10.0.0.1", FIRST_VNI, 1)
    return ClusterView.load(7, [
        kv(network_key(NID), d.encode()),
        kv(vtep_key(NID, ME), Vtep("192.0.2.1", 4789).encode()),
        kv(vtep_key(NID, OTHER), Vtep("192.0.2.2", 4790).encode()),
        kv(endpoint_key(NID, "10.0.0.2"), ep(ME, "10.0.0.2", "mine").encode()),
        kv(endpoint_key(NID, "10.0.0.3"), ep(OTHER, "10.0.0.3", "theirs").encode()),
        kv(endpoint_key(NID, "10.0.0.4"), ep(THIRD, "10.0.0.4", "no-vtep-yet").encode()),
        kv(claim_key(NID, "10.0.0.2"), Claim(ME, "mine-id").encode()),
        kv("berth/v1/names/ov1", NID.encode()),
    ])


def test_it_loads_networks_peers_and_claims() -> None:
    view = loaded()
    assert view.revision == 7 and view.networks[NID].name == "ov1"
    assert set(view.vteps[NID]) == {ME, OTHER}
    assert view.claims[NID]["10.0.0.2"] == Claim(ME, "mine-id")
    assert [p.name for p in view.remote_endpoints(NID, ME)] == ["theirs", "no-vtep-yet"]


def test_it_programs_remote_containers_whose_host_has_a_tunnel_end() -> None:
    table = desired_peers(loaded(), NID, ME)
    assert table.forwarding == {Forwarding("02:42:0a:00:00:03", "192.0.2.2", 4790)}
    assert table.neighbours == {Neighbour("10.0.0.3", "02:42:0a:00:00:03")}


def test_it_follows_watch_events() -> None:
    view = loaded()
    changed = view.apply([Event(False, kv(vtep_key(NID, THIRD), Vtep("192.0.2.3", 4789).encode(), 9))])
    assert changed == (False, {NID}) and view.revision == 9
    assert Neighbour("10.0.0.4", "02:42:0a:00:00:04") in desired_peers(view, NID, ME).neighbours
    changed = view.apply([Event(True, kv(endpoint_key(NID, "10.0.0.3"), revision=10)),
                          Event(True, kv(claim_key(NID, "10.0.0.2"), revision=10))])
    assert (changed == (False, {NID}) and NID not in view.claims) or not view.claims[NID]
    assert [p.name for p in view.remote_endpoints(NID, ME)] == ["no-vtep-yet"]
    assert view.apply([Event(True, kv(network_key(NID), revision=11))]) == (True, set())
    assert NID not in view.networks


def test_it_ignores_records_it_cannot_read() -> None:
    view = ClusterView.load(3, [kv(network_key("x"), b"{not json"), kv(endpoint_key(NID, "10.0.0.9"), b"[]")])
    assert not view.networks and not view.endpoints.get(NID)


def test_it_chooses_the_lowest_free_vni_or_the_one_asked_for() -> None:
    assert choose_vni([]) == FIRST_VNI
    assert choose_vni([FIRST_VNI, FIRST_VNI + 1, FIRST_VNI + 3]) == FIRST_VNI + 2
    assert choose_vni([FIRST_VNI], 5000) == 5000
    with pytest.raises(ValueError, match="in use"):
        choose_vni([5000], 5000)
    with pytest.raises(ValueError, match="range"):
        choose_vni([], 12)


def decoded(part: dict[str, str]) -> str:
    return base64.b64decode(part["key"]).decode()


def test_a_create_fails_when_any_network_changed_since_the_read_or_the_name_is_taken() -> None:
    d = OverlayDef(NID, "ov1", "10.0.0.0/24", "10.0.0.1", FIRST_VNI, 1)
    compare, success, failure = create_txn(d, 41)
    assert compare[0]["target"] == "MOD" and compare[0]["mod_revision"] == "42"
    assert decoded(compare[0]) == "berth/v1/networks/" and base64.b64decode(compare[0]["range_end"]) == b"berth/v1/networks0"
    assert compare[1] == etcd.key_absent("berth/v1/names/ov1")
    assert [decoded(op["request_put"]) for op in success] == [network_key(NID), "berth/v1/names/ov1"]
    assert decoded(failure[0]["request_range"]) == "berth/v1/names/ov1"


def test_a_remove_needs_no_address_claimed_anywhere() -> None:
    d = OverlayDef(NID, "ov1", "10.0.0.0/24", "10.0.0.1", FIRST_VNI, 1)
    compare, success, _ = remove_txn(d)
    assert compare[1] == etcd.prefix_empty(f"berth/v1/ipam/{NID}/")
    deleted = {decoded(op["request_delete_range"]) for op in success}
    assert deleted == {network_key(NID), "berth/v1/names/ov1", f"berth/v1/peers/{NID}/", f"berth/v1/ipam/{NID}/"}


def test_a_claim_needs_the_address_free_and_the_network_there() -> None:
    compare, success, _ = claim_txn(NID, "10.0.0.5", Claim(ME, "c"))
    assert compare == [etcd.key_absent(claim_key(NID, "10.0.0.5")), etcd.key_present(network_key(NID))]
    assert base64.b64decode(success[0]["request_put"]["value"]) == Claim(ME, "c").encode()


def test_it_parses_the_cluster_flags() -> None:
    c = parse_cluster("etcd://10.1.0.1:2379,10.1.0.2:2379", "10.1.0.7:2376", 4789, "10.0.0.0/8")
    assert c is not None and c.endpoints == ("10.1.0.1:2379", "10.1.0.2:2379")
    assert (c.advertise, c.advertise_text) == ("10.1.0.7", "10.1.0.7:2376")
    assert parse_cluster("", "", 4789, "10.0.0.0/8") is None


@pytest.mark.parametrize("store,advertise,message", [
    ("consul://h:8500", "10.0.0.1", "etcd://"),
    ("etcd://h", "10.0.0.1", "HOST:PORT"),
    ("etcd://h:2379", "", "needs --cluster-advertise"),
    ("etcd://h:2379", "eth0", "IPv4 address"),
    ("", "10.0.0.1", "needs --cluster-store"),
])
def test_it_refuses_bad_cluster_flags(store: str, advertise: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_cluster(store, advertise, 4789, "10.0.0.0/8")
