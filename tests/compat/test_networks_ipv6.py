"""IPv6 on bridge networks (Docker 20.10, API 1.41): the docker CLI against Berth, and
inspect JSON and refusals side by side with the real Docker engine.

Every IPv6 subnet here is a random /64 of 2001:db8::/32 (documentation space), so
engines running side by side on this host never route the same prefix.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import docker as docker_sdk
import pytest

from tests.compat.conftest import RealDocker
from tests.support.engine import EngineProcess

SERVE = "mkdir -p /www; echo {text} > /www/index.html; exec httpd -f -p 80 -h /www"


def random_prefix() -> str:
    """`2001:db8:XXXX:` — append `:/64` for the subnet, `:N` for an address."""
    return f"2001:db8:{secrets.randbelow(0xfff0) + 1:x}:"


@pytest.fixture
def net6(docker) -> Iterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """An IPv6-enabled network made with the CLI: (name, prefix); removed after the test."""
    prefix = random_prefix()
    name = f"net6-{secrets.token_hex(3)}"
    docker("network", "create", "--ipv6", "--subnet", f"{prefix}:/64", name, check=True)
    yield name, prefix
    for cid in docker("ps", "-aq", "--filter", f"network={name}").out.split():
        docker("rm", "-f", cid)
    docker("network", "rm", name)


def _links(engine: EngineProcess) -> list[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return sorted(line.split(":")[1].strip().split("@")[0] for line in out.splitlines()
                  if line.split(":")[1].strip().startswith(engine.prefix))


def test_containers_talk_ipv6_by_address_and_name(engine: EngineProcess, docker, net6) -> None:  # type: ignore[no-untyped-def]
    name, prefix = net6
    docker("run", "-d", "--name", "six-a", "--network", name, "busybox", "sleep", "300", check=True)
    docker("run", "-d", "--name", "six-b", "--network", name, "--ip6", f"{prefix}:99", "busybox", "sh", "-c",
           SERVE.format(text="six-b"), check=True)
    a = engine.inspect("six-a")["NetworkSettings"]["Networks"][name]
    assert (a["GlobalIPv6Address"], a["GlobalIPv6PrefixLen"], a["IPv6Gateway"]) == (f"{prefix}:2", 64, f"{prefix}:1")
    assert a["IPAddress"].count(".") == 3  # IPv4 as well, from the engine's pool
    # by address and by name (AAAA from the embedded DNS), over ICMPv6 and TCP
    assert docker("exec", "six-a", "ping6", "-c1", "-w5", f"{prefix}:99").returncode == 0
    assert docker("exec", "six-a", "ping6", "-c1", "-w5", "six-b").returncode == 0
    aaaa = docker("exec", "six-a", "nslookup", "-type=AAAA", "six-b").out
    assert f"Address: {prefix}:99" in aaaa
    assert docker("exec", "six-a", "wget", "-qO-", f"http://[{prefix}:99]/").out == "six-b"
    # and IPv4 keeps working on the same network
    b_ip = engine.inspect("six-b")["NetworkSettings"]["Networks"][name]["IPAddress"]
    assert docker("exec", "six-a", "wget", "-qO-", f"http://{b_ip}/").out == "six-b"
    assert docker("exec", "six-a", "ping", "-4", "-c1", "-w5", "six-b").returncode == 0
    # the gateway is on the bridge, and the container's default IPv6 route goes through it
    assert docker("exec", "six-a", "ping6", "-c1", "-w5", f"{prefix}:1").returncode == 0
    assert f"default via {prefix}:1 dev eth0" in docker("exec", "six-a", "ip", "-6", "route").out
    assert docker("exec", "six-a", "cat", "/proc/sys/net/ipv6/conf/eth0/disable_ipv6").out == "0"
    # /etc/hosts: one line per address of the container, as Docker writes them
    short = engine.inspect("six-a")["Id"][:12]
    hosts = docker("exec", "six-a", "cat", "/etc/hosts").out.splitlines()
    assert hosts[-2:] == [f"{a['IPAddress']}\t{short}", f"{prefix}:2\t{short}"]
    members = json.loads(docker("network", "inspect", name, "--format", "{{json .Containers}}", check=True).out)
    assert sorted(v["IPv6Address"] for v in members.values()) == [f"{prefix}:2/64", f"{prefix}:99/64"]


def test_network_inspect_shows_both_subnets(docker) -> None:  # type: ignore[no-untyped-def]
    prefix = random_prefix()
    docker("network", "create", "--ipv6", "--subnet", f"{prefix}:/64", "--gateway", f"{prefix}:fe",
           "--ip-range", f"{prefix}:100/120", "sixr", check=True)
    try:
        doc = json.loads(docker("network", "inspect", "sixr", check=True).out)[0]
        assert doc["EnableIPv6"] is True
        v4, v6 = doc["IPAM"]["Config"]
        assert set(v4) == {"Subnet", "Gateway"} and v4["Subnet"].count(".") == 3
        assert v6 == {"Subnet": f"{prefix}:/64", "Gateway": f"{prefix}:fe", "IPRange": f"{prefix}:100/120"}
        out = docker("run", "--rm", "--network", "sixr", "busybox", "ip", "-6", "-o", "addr", "show", "eth0").out
        assert f"{prefix}:100/64" in out  # the first address of the range
    finally:
        docker("network", "rm", "sixr")


def test_addresses_are_released_and_survive_a_restart(engine: EngineProcess, docker, net6) -> None:  # type: ignore[no-untyped-def]
    name, prefix = net6
    docker("run", "-d", "--name", "rel-a", "--network", name, "busybox", "sleep", "300", check=True)
    docker("create", "--name", "rel-b", "--network", name, "busybox", "sleep", "300", check=True)
    docker("stop", "-t", "0", "rel-a", check=True)
    docker("start", "rel-b", check=True)  # takes the address rel-a gave back
    assert engine.inspect("rel-b")["NetworkSettings"]["Networks"][name]["GlobalIPv6Address"] == f"{prefix}:2"
    assert engine.inspect("rel-a")["NetworkSettings"]["Networks"][name]["GlobalIPv6Address"] == ""
    # connect with a chosen address; disconnect gives it back
    docker("run", "-d", "--name", "rel-c", "busybox", "sleep", "300", check=True)
    docker("network", "connect", "--ip6", f"{prefix}:77", name, "rel-c", check=True)
    assert f"{prefix}:77/64" in docker("exec", "rel-c", "ip", "-6", "addr", "show", "eth1").out
    settings = engine.inspect("rel-c")["NetworkSettings"]["Networks"][name]
    assert settings["IPAMConfig"] == {"IPv6Address": f"{prefix}:77"}
    assert docker("exec", "rel-c", "ping6", "-c1", "-w5", f"{prefix}:2").returncode == 0
    # the default route stays on the first network, as Docker's
    assert "default" not in docker("exec", "rel-c", "ip", "-6", "route").out
    docker("network", "disconnect", name, "rel-c", check=True)
    docker("network", "disconnect", name, "rel-a", check=True)  # stopped: kept for its next start
    docker("network", "connect", "--ip6", f"{prefix}:77", name, "rel-a", check=True)
    # a restarted engine knows which addresses running containers hold, and re-makes the gateway
    engine.kill9()
    engine.start()
    docker("start", "rel-a", check=True)
    docker("run", "-d", "--name", "rel-d", "--network", name, "busybox", "sleep", "300", check=True)
    assert engine.inspect("rel-d")["NetworkSettings"]["Networks"][name]["GlobalIPv6Address"] == f"{prefix}:3"
    assert engine.inspect("rel-a")["NetworkSettings"]["Networks"][name]["GlobalIPv6Address"] == f"{prefix}:77"
    assert docker("exec", "rel-d", "ping6", "-c1", "-w5", "rel-b").returncode == 0
    assert docker("exec", "rel-d", "ping6", "-c1", "-w5", f"{prefix}:1").returncode == 0


@pytest.mark.parametrize("args,needle", [
    (["network", "create", "--ipv6", "six-nopool"],
     "could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network"),
    (["network", "create", "-d", "macvlan", "--ipv6", "--subnet", "2001:db8:fe::/64", "-o", "parent=lo", "six-mv"],
     "IPv6 is not supported on macvlan networks"),
    (["network", "create", "-d", "overlay", "--ipv6", "--subnet", "2001:db8:fe::/64", "six-ov"],
     "IPv6 is not supported on overlay networks"),
    (["run", "--rm", "--ip6", "2001:db8:fe::5", "busybox", "true"],
     "user specified IP address is supported on user defined networks only"),
])
def test_refusals(engine: EngineProcess, docker, args: list[str], needle: str) -> None:  # type: ignore[no-untyped-def]
    before = _links(engine)
    r = docker(*args)
    assert r.returncode != 0 and needle in r.stderr, r.stderr
    assert docker("network", "ls", "--filter", "name=six-", "-q").out == ""
    assert _links(engine) == before


def test_address_refusals(docker, net6) -> None:  # type: ignore[no-untyped-def]
    name, prefix = net6
    docker("network", "create", "plain4", check=True)
    try:
        r = docker("run", "--rm", "--network", "plain4", "--ip6", f"{prefix}:5", "busybox", "true")
        assert "user specified IP address is supported only when connecting to networks with user configured subnets" in r.stderr
        r = docker("run", "--rm", "--network", name, "--ip6", "2001:db9::5", "busybox", "true")
        assert "Invalid address 2001:db9::5: It does not belong to any of this network's subnets" in r.stderr
        docker("run", "-d", "--name", "dup-a", "--network", name, "--ip6", f"{prefix}:5", "busybox", "sleep", "300", check=True)
        r = docker("run", "--rm", "--network", name, "--ip6", f"{prefix}:5", "busybox", "true")
        assert r.returncode != 0 and "Address already in use" in r.stderr
    finally:
        docker("network", "rm", "plain4")


def test_ipv6_networks_are_isolated_from_each_other(engine: EngineProcess, docker, net6) -> None:  # type: ignore[no-untyped-def]
    name, prefix = net6
    other = random_prefix()
    docker("network", "create", "--ipv6", "--subnet", f"{other}:/64", "six-other", check=True)
    try:
        docker("run", "-d", "--name", "iso-a", "--network", name, "busybox", "sleep", "300", check=True)
        docker("run", "-d", "--name", "iso-b", "--network", "six-other", "busybox", "sleep", "300", check=True)
        assert docker("exec", "iso-a", "ping6", "-c1", "-w5", f"{prefix}:1").returncode == 0
        assert docker("exec", "iso-a", "ping6", "-c1", "-w2", f"{other}:2").returncode != 0
        table = subprocess.run(["nft", "list", "table", "ip6", engine.nft_table], capture_output=True, text=True).stdout
        assert "drop" in table
    finally:
        docker("rm", "-f", "iso-b")
        docker("network", "rm", "six-other")


def test_network_removal_leaves_nothing(engine: EngineProcess, docker) -> None:  # type: ignore[no-untyped-def]
    before = _links(engine)
    prefix = random_prefix()
    docker("network", "create", "--ipv6", "--subnet", f"{prefix}:/64", "sixgone", check=True)
    docker("run", "--rm", "--network", "sixgone", "busybox", "ping6", "-c1", "-w5", f"{prefix}:1", check=True)
    docker("network", "rm", "sixgone", check=True)
    assert _links(engine) == before
    routes = subprocess.run(["ip", "-6", "route"], capture_output=True, text=True).stdout
    assert prefix not in routes
    # the same subnet can be used again
    docker("network", "create", "--ipv6", "--subnet", f"{prefix}:/64", "sixgone", check=True)
    docker("network", "rm", "sixgone", check=True)


# -- side by side with the real Docker engine ------------------------------------------------
MASKED = {"Id", "Created", "NetworkID", "EndpointID", "IPPrefixLen", "MacAddress", "Aliases", "Name"}


def _masked(doc: Any, prefix: str, ours: str) -> Any:
    """`doc` with IDs, names and IPv4 values (which come from each engine's pool) masked, and its
    IPv6 prefix replaced by Berth's."""
    if isinstance(doc, dict):
        return {k: "*" if k in MASKED else _masked(v, prefix, ours) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_masked(v, prefix, ours) for v in doc]
    if isinstance(doc, str) and doc.count(".") == 3 and ":" not in doc:
        return "IPv4"
    if isinstance(doc, str):
        return doc.replace(prefix, ours)
    return doc


def _ipv6_documents(client: docker_sdk.APIClient, image: str, prefix: str, name: str) -> dict[str, Any]:
    ipam = docker_sdk.types.IPAMConfig(pool_configs=[docker_sdk.types.IPAMPool(
        subnet=f"{prefix}:/64", iprange=f"{prefix}:/96", gateway=f"{prefix}:ffff")])
    net = client.create_network(name, enable_ipv6=True, ipam=ipam)
    made = []
    try:
        for wanted in ("", f"{prefix}:f00d"):
            endpoint = client.create_endpoint_config(ipv6_address=wanted) if wanted else client.create_endpoint_config()
            ctr = client.create_container(image, "sleep 60", host_config=client.create_host_config(network_mode=name),
                                          networking_config=client.create_networking_config({name: endpoint}))
            made.append(ctr["Id"])
            client.start(ctr)
        settings = [client.inspect_container(c)["NetworkSettings"] for c in made]
        network = client.inspect_network(net["Id"])
        network["IPAM"]["Config"][0] = sorted(network["IPAM"]["Config"][0])  # the engines' IPv4 pools differ
        network["Containers"] = sorted(network["Containers"].values(), key=lambda v: v["IPv6Address"])
        return {"network": network, "containers": [{k: v for k, v in s.items() if k not in ("SandboxID", "SandboxKey")}
                                                   for s in settings]}
    finally:
        for c in made:
            client.remove_container(c, force=True)
        client.remove_network(net["Id"])


def test_inspect_matches_docker(api: docker_sdk.APIClient, real_docker: RealDocker) -> None:
    ours, theirs = random_prefix(), random_prefix()
    name = f"berth-probe6-{secrets.token_hex(3)}"
    berth = _masked(_ipv6_documents(api, "busybox", ours, name), ours, ours)
    docker = _masked(_ipv6_documents(real_docker.api, real_docker.image, theirs, name), theirs, ours)
    assert berth == docker
    assert berth["containers"][1]["Networks"]  # not vacuous
    net = next(iter(berth["containers"][1]["Networks"].values()))
    assert (net["GlobalIPv6Address"], net["IPv6Gateway"], net["IPAMConfig"]) == (
        f"{ours}:f00d", f"{ours}:ffff", {"IPv6Address": f"{ours}:f00d"})


def _refusals(client: docker_sdk.APIClient, image: str, prefix: str) -> list[tuple[int, str]]:
    """(status, message) of each refused request, in order."""
    out: list[tuple[int, str]] = []
    made_nets: list[str] = []
    made_ctrs: list[str] = []

    def attempt(step: Callable[[], Any]) -> None:
        try:
            step()
            out.append((0, ""))
        except docker_sdk.errors.APIError as err:
            out.append((err.status_code, str(err.explanation)))

    def net(name: str, **kw: Any) -> None:
        made_nets.append(client.create_network(name, **kw)["Id"])

    def run(network: str, ipv6: str) -> None:
        ctr = client.create_container(image, "sleep 60", host_config=client.create_host_config(network_mode=network),
                                      networking_config=client.create_networking_config(
                                          {network: client.create_endpoint_config(ipv6_address=ipv6)}))
        made_ctrs.append(ctr["Id"])
        client.start(ctr)

    tag = secrets.token_hex(3)
    pool = docker_sdk.types.IPAMPool
    try:
        attempt(lambda: net(f"p6-nopool-{tag}", enable_ipv6=True))
        attempt(lambda: net(f"p6-two-{tag}", enable_ipv6=True, ipam=docker_sdk.types.IPAMConfig(
            pool_configs=[pool(subnet=f"{prefix}:/64"), pool(subnet="2001:db8:ffff::/64")])))
        attempt(lambda: net(f"p6-{tag}", enable_ipv6=True, ipam=docker_sdk.types.IPAMConfig(
            pool_configs=[pool(subnet=f"{prefix}:/64")])))
        attempt(lambda: net(f"p4-{tag}"))
        attempt(lambda: run(f"p4-{tag}", f"{prefix}:5"))  # a network without IPv6
        attempt(lambda: run(f"p6-{tag}", "zz"))
        attempt(lambda: run(f"p6-{tag}", "2001:db9::5"))  # outside the subnet
        attempt(lambda: run(f"p6-{tag}", f"{prefix}:5"))
        attempt(lambda: run(f"p6-{tag}", f"{prefix}:5"))  # taken
        attempt(lambda: net(f"p6-again-{tag}", enable_ipv6=True, ipam=docker_sdk.types.IPAMConfig(
            pool_configs=[pool(subnet=f"{prefix}:/64")])))  # overlaps
    finally:
        for c in made_ctrs:
            client.remove_container(c, force=True)
        for n in made_nets:
            client.remove_network(n)
    return [(status, message.replace(prefix, "PREFIX:")) for status, message in out]


def test_refusals_match_docker(api: docker_sdk.APIClient, real_docker: RealDocker) -> None:
    ours, theirs = random_prefix(), random_prefix()
    berth = _refusals(api, "busybox", ours)
    assert berth == _refusals(real_docker.api, real_docker.image, theirs)
    assert sum(1 for status, _ in berth if status) == 7
