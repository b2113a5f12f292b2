"""Overlay networks across three hosts: network namespaces on an underlay bridge, one etcd, an engine each.

See tests/support/cluster.py for the hosts. The tests run in order on one cluster:
create and see everywhere, allocate under contention, reach a container on another
host by name, cut a host off and bring it back, remove the network everywhere.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, TypeVar

import docker  # type: ignore[import-untyped]
import pytest

from tests.support.cluster import Cluster, Host
from tests.support.engine import EngineProcess, Result

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the engine needs root"),
    pytest.mark.skipif(shutil.which("etcd") is None, reason="needs etcd (Debian's etcd-server)"),
    pytest.mark.slow,
]
T = TypeVar("T")
HTTPD = "mkdir -p /www && echo hello-from-$(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"


def wait_for(what: str, probe: Callable[[], T], timeout: float = 30, every: float = 0.3) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last: {value!r})")
        time.sleep(every)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    c = Cluster(hosts=3)
    try:
        c.start()
        yield c
    finally:
        leaks = c.cleanup()
        assert not leaks, f"the cluster left things behind: {leaks}"


def overlay_ids(e: EngineProcess) -> dict[str, str]:
    out = e.docker("network", "ls", "--filter", "driver=overlay", "--format", "{{.Name}} {{.ID}}", check=True).out
    return dict(line.split() for line in out.splitlines())


def overlay_names_are(e: EngineProcess, names: set[str]) -> bool:
    return set(overlay_ids(e)) == names


def lists_overlay(e: EngineProcess, name: str, short_id: str) -> bool:
    return overlay_ids(e).get(name) == short_id


def raw_info(e: EngineProcess) -> dict[str, Any]:
    """GET /info as the engine sends it (the docker CLI drops the pre-swarm ClusterStore fields)."""
    with docker.APIClient(base_url=e.host) as client:
        return client.info()


def store_warnings(e: EngineProcess) -> list[str]:
    return [w for w in raw_info(e).get("Warnings") or [] if "cluster store" in w]


def test_it_shows_an_overlay_network_on_every_host(cluster: Cluster) -> None:
    a, b, c = cluster.hosts
    nid = a.engine.docker("network", "create", "-d", "overlay", "ov1", check=True).out
    doc = a.engine.inspect("ov1")
    assert (doc["Driver"], doc["Scope"]) == ("overlay", "global")
    subnet = doc["IPAM"]["Config"][0]["Subnet"]
    assert subnet.endswith("/24") and doc["Options"]["com.docker.network.driver.overlay.vxlanid_list"]
    for h in (b, c):
        wait_for(f"ov1 on host {h.letter}", partial(lists_overlay, h.engine, "ov1", nid[:12]))
        assert h.engine.inspect("ov1")["IPAM"]["Config"][0]["Subnet"] == subnet
    taken = c.engine.docker("network", "create", "-d", "overlay", "ov1")
    assert taken.returncode != 0 and "already exists" in taken.stderr
    info = raw_info(b.engine)
    assert info["ClusterStore"] == cluster.store and info["ClusterAdvertise"] == b.address
    assert not store_warnings(b.engine)


def test_it_never_hands_out_a_subnet_vni_or_name_twice(cluster: Cluster) -> None:
    a, b, c = cluster.hosts
    results: dict[str, Result] = {}

    def create(h: Host, name: str, key: str) -> None:
        results[key] = h.engine.docker("network", "create", "-d", "overlay", name)

    jobs = [threading.Thread(target=create, args=args) for args in
            ((a, "race1", "a1"), (c, "race2", "c2"), (b, "race3", "b3"), (a, "dup", "a-dup"), (c, "dup", "c-dup"))]
    for t in jobs:
        t.start()
    for t in jobs:
        t.join()
    assert all(results[k].returncode == 0 for k in ("a1", "c2", "b3")), results
    assert sorted(results[k].returncode == 0 for k in ("a-dup", "c-dup")) == [False, True], results
    docs = [a.engine.inspect(n) for n in ("ov1", "race1", "race2", "race3", "dup")]
    subnets = [d["IPAM"]["Config"][0]["Subnet"] for d in docs]
    vnis = [d["Options"]["com.docker.network.driver.overlay.vxlanid_list"] for d in docs]
    assert len(set(subnets)) == len(subnets) and len(set(vnis)) == len(vnis), (subnets, vnis)
    for name in ("race1", "race2", "race3", "dup"):
        b.engine.docker("network", "rm", name, check=True)
    for h in cluster.hosts:
        wait_for(f"only ov1 left on {h.letter}", partial(overlay_names_are, h.engine, {"ov1"}))


def test_it_reaches_a_container_on_another_host_by_name(cluster: Cluster) -> None:
    a, b, c = cluster.hosts
    c.engine.docker("run", "-d", "--name", "web", "--hostname", "web", "--network", "ov1", "-p", "8080:80",
                    "busybox", "sh", "-c", HTTPD, check=True)
    a.engine.docker("run", "-d", "--name", "cli", "--network", "ov1", "busybox", "sleep", "3600", check=True)
    page = wait_for("a page from web on host c", lambda: a.engine.docker("exec", "cli", "timeout", "5", "wget", "-qO-",
                                                                        "http://web/").out, timeout=15)
    assert page == "hello-from-web"
    ping = a.engine.docker("exec", "cli", "ping", "-c", "1", "-W", "2", "web")
    assert ping.returncode == 0, ping.stdout + ping.stderr
    web_ip = c.engine.inspect("web")["NetworkSettings"]["Networks"]["ov1"]["IPAddress"]
    cli_ip = a.engine.inspect("cli")["NetworkSettings"]["Networks"]["ov1"]["IPAddress"]
    assert web_ip != cli_ip and web_ip in ping.stdout
    # and back, by name too: c's DNS answers for a's container
    back = c.engine.docker("exec", "web", "ping", "-c", "1", "-W", "2", "cli")
    assert back.returncode == 0 and cli_ip in back.stdout
    published = a.run("busybox", "wget", "-qO-", f"http://{c.address}:8080/")  # host a to c's published port
    assert published.stdout.strip() == "hello-from-web", published.stderr
    assert a.vxlan_devices() and c.vxlan_devices() and not b.vxlan_devices()
    nid = a.engine.inspect("ov1")["Id"]
    keys = cluster.keys()
    assert f"berth/v1/ipam/{nid}/{web_ip}" in keys and f"berth/v1/peers/{nid}/ep/{cli_ip}" in keys
    assert sum(1 for k in keys if k.startswith(f"berth/v1/peers/{nid}/vtep/")) == 2


def test_it_keeps_hosts_working_when_one_is_cut_off(cluster: Cluster) -> None:
    a, b, c = cluster.hosts
    b.engine.docker("run", "-d", "--name", "b1", "--network", "ov1", "busybox", "sleep", "3600", check=True)
    b.engine.docker("network", "create", "bnet", check=True)
    b.engine.docker("run", "-d", "--name", "bl", "--network", "bnet", "busybox", "sleep", "3600", check=True)
    wait_for("a reaching b1", lambda: a.engine.docker("exec", "cli", "ping", "-c", "1", "-W", "1", "b1").returncode == 0)

    cluster.cut(b)
    warning = wait_for("b's /info to report the store", lambda: store_warnings(b.engine), timeout=30)
    assert cluster.store in warning[0] and "unreachable" in warning[0]
    assert a.engine.docker("exec", "cli", "timeout", "5", "wget", "-qO-", "http://web/").out == "hello-from-web"
    assert not store_warnings(a.engine) and not store_warnings(c.engine)
    running = b.engine.docker("ps", "--format", "{{.Names}}", check=True).out.split()
    assert sorted(running) == ["b1", "bl"]
    assert b.engine.docker("exec", "b1", "true").returncode == 0
    local = b.engine.docker("run", "--rm", "--network", "bnet", "busybox", "ping", "-c", "1", "-W", "2", "bl")
    assert local.returncode == 0, local.stderr
    refused = b.engine.docker("network", "create", "-d", "overlay", "ov-while-away")
    assert refused.returncode != 0 and "unreachable" in refused.stderr

    cluster.mend(b)
    wait_for("b back on the store", lambda: not store_warnings(b.engine), timeout=60)
    wait_for("a reaching b1 again", lambda: a.engine.docker("exec", "cli", "ping", "-c", "1", "-W", "1",
                                                            "b1").returncode == 0, timeout=30)
    b.engine.docker("rm", "-f", "bl", check=True)
    b.engine.docker("network", "rm", "bnet", check=True)


def test_it_removes_the_network_everywhere(cluster: Cluster) -> None:
    a, b, c = cluster.hosts
    busy = a.engine.docker("network", "rm", "ov1")
    assert busy.returncode != 0 and "active endpoints" in busy.stderr
    a.engine.docker("rm", "-f", "cli", check=True)
    busy = a.engine.docker("network", "rm", "ov1")  # b1 and web on the other hosts
    assert busy.returncode != 0 and "active endpoints" in busy.stderr
    b.engine.docker("rm", "-f", "b1", check=True)
    c.engine.docker("rm", "-f", "web", check=True)
    a.engine.docker("network", "rm", "ov1", check=True)
    for h in cluster.hosts:
        wait_for(f"ov1 gone from host {h.letter}", partial(overlay_names_are, h.engine, set()))
        assert not h.vxlan_devices()
        bridges = h.run("ip", "-o", "link", "show", "type", "bridge").stdout
        assert f"{h.engine.prefix}o" not in bridges
    wait_for("no keys left in etcd", lambda: not cluster.keys(), timeout=10)
