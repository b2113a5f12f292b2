"""Networks through the real docker CLI: the course's stack, ports, discovery, isolation."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from contextlib import closing

import pytest

from tests.support.engine import EngineProcess

SERVE = "mkdir -p /www; echo {text} > /www/index.html; exec httpd -f -p {port} -h /www"


def free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_range(n: int) -> int:
    """A start port with n free ports after it (checked by binding each)."""
    for _ in range(50):
        base = free_port()
        if base + n > 65000:
            continue
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                s.bind(("0.0.0.0", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range")


def http_get(url: str, attempts: int = 50) -> str:
    for _ in range(attempts):
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # loopback only
                return resp.read().decode()
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


def test_course_stack(engine: EngineProcess, docker) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    docker("network", "create", "-d", "bridge", "app-net", check=True)
    try:
        docker("run", "-d", "--network", "app-net", "--name", "db", "busybox", "sh", "-c",
               SERVE.format(text="db-ok", port=3306), check=True)
        docker("run", "-d", "-p", f"{port}:3000", "--network", "app-net", "--name", "app", "busybox", "sh", "-c",
               SERVE.format(text="app-ok", port=3000), check=True)
        assert http_get(f"http://127.0.0.1:{port}/") == "app-ok\n"
        assert docker("exec", "app", "wget", "-qO-", "http://db:3306/").stdout == "db-ok\n"
        # by alias and short id as well
        db_id = engine.inspect("db")["Id"][:12]
        assert docker("exec", "app", "wget", "-qO-", f"http://{db_id}:3306/").stdout == "db-ok\n"
        containers = json.loads(docker("network", "inspect", "app-net", "--format", "{{json .Containers}}", check=True).out)
        names = sorted(v["Name"] for v in containers.values())
        assert names == ["app", "db"]
        assert all(v["IPv4Address"].count(".") == 3 and v["MacAddress"].startswith("02:42:") for v in containers.values())
        assert docker("port", "app").out == f"3000/tcp -> 0.0.0.0:{port}"
        assert f"0.0.0.0:{port}->3000/tcp" in docker("ps", "--format", "{{.Ports}}").out
        resolv = docker("exec", "app", "cat", "/etc/resolv.conf").out
        assert resolv.splitlines()[0] == "nameserver 127.0.0.11"
        rm = docker("network", "rm", "app-net")
        assert rm.returncode != 0 and "active endpoints" in rm.stderr
    finally:
        docker("rm", "-f", "app", "db")
        docker("network", "rm", "app-net")


def test_no_name_resolution_on_the_default_bridge(docker) -> None:  # type: ignore[no-untyped-def]
    docker("run", "-d", "--name", "dbb", "busybox", "sh", "-c", SERVE.format(text="x", port=3306), check=True)
    # --dns 127.0.0.1 keeps the failed lookup on loopback instead of asking the host's resolver
    r = docker("run", "--rm", "--dns", "127.0.0.1", "busybox", "wget", "-qO-", "http://dbb:3306/")
    assert r.returncode != 0 and "bad address" in r.stderr
    ip = docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "dbb").out
    assert docker("run", "--rm", "busybox", "wget", "-qO-", f"http://{ip}:3306/").out == "x"


def test_port_ranges_random_and_udp(engine: EngineProcess, docker) -> None:  # type: ignore[no-untyped-def]
    base = free_range(5)
    for name in ("r0", "r1"):
        docker("run", "-d", "--name", name, "-p", f"{base}-{base + 4}:3000", "busybox", "sh", "-c",
               SERVE.format(text=name, port=3000), check=True)
    assert docker("port", "r0", "3000").out == f"0.0.0.0:{base}"
    assert docker("port", "r1", "3000").out == f"0.0.0.0:{base + 1}"
    assert http_get(f"http://127.0.0.1:{base + 1}/") == "r1\n"
    docker("run", "-d", "--name", "rnd", "-p", "3000", "-p", "127.0.0.1::4000/udp", "busybox", "sleep", "100", check=True)
    ports = engine.inspect("rnd")["NetworkSettings"]["Ports"]
    assert int(ports["3000/tcp"][0]["HostPort"]) > 1024
    assert ports["4000/udp"][0]["HostIp"] == "127.0.0.1"
    docker("run", "-d", "--name", "pall", "--expose", "5000", "-P", "busybox", "sleep", "100", check=True)
    assert docker("port", "pall", "5000").out.startswith("0.0.0.0:")
    docker("rm", "-f", "r0", "r1", "rnd", "pall", check=True)
    assert docker("ps", "-aq").out == ""


def test_port_in_use_leaves_nothing_half_made(engine: EngineProcess, docker) -> None:  # type: ignore[no-untyped-def]
    holder = socket.socket()
    holder.bind(("0.0.0.0", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        links_before = _links(engine.prefix)
        r = docker("run", "-d", "--name", "clash", "-p", f"{port}:80", "busybox", "sleep", "100")
        assert r.returncode != 0
        assert f"Bind for 0.0.0.0:{port} failed: port is already allocated" in r.stderr
        assert engine.inspect("clash")["State"]["Status"] in ("created", "exited")
        assert _links(engine.prefix) == links_before
        assert f"dport {port}" not in _table(engine)
    finally:
        holder.close()
        docker("rm", "-f", "clash")


def test_rules_go_when_the_container_stops(engine: EngineProcess, docker) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    docker("run", "-d", "--name", "gone", "-p", f"127.0.0.1:{port}:3000", "busybox", "sh", "-c",
           SERVE.format(text="here", port=3000), check=True)
    assert http_get(f"http://127.0.0.1:{port}/") == "here\n"
    assert f"dport {port}" in _table(engine)
    docker("stop", "-t", "0", "gone", check=True)
    assert f"dport {port}" not in _table(engine)
    assert engine.inspect("gone")["NetworkSettings"]["Ports"] == {}
    docker("start", "gone", check=True)
    assert http_get(f"http://127.0.0.1:{port}/") == "here\n"


def test_hairpin_through_the_gateway(engine: EngineProcess, docker) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    docker("run", "-d", "--name", "hp", "-p", f"{port}:3000", "busybox", "sh", "-c",
           SERVE.format(text="hairpin", port=3000), check=True)
    http_get(f"http://127.0.0.1:{port}/")
    gateway = engine.inspect("hp")["NetworkSettings"]["Gateway"]
    assert docker("run", "--rm", "busybox", "wget", "-qO-", f"http://{gateway}:{port}/").out == "hairpin"
    assert docker("exec", "hp", "wget", "-qO-", f"http://{gateway}:{port}/").out == "hairpin"


def test_connect_disconnect_alias_ip_and_isolation(engine: EngineProcess, docker) -> None:  # type: ignore[no-untyped-def]
    docker("network", "create", "--subnet", "10.231.7.0/24", "--gateway", "10.231.7.254", "--label", "k=v", "n1", check=True)
    try:
        docker("run", "-d", "--name", "srv", "--network", "n1", "--network-alias", "web", "busybox", "sh", "-c",
               SERVE.format(text="srv", port=80), check=True)
        docker("run", "-d", "--name", "cli", "busybox", "sleep", "300", check=True)
        srv_ip = engine.inspect("srv")["NetworkSettings"]["Networks"]["n1"]["IPAddress"]
        assert srv_ip.startswith("10.231.7.")
        # isolation: the default bridge cannot reach n1
        r = docker("exec", "cli", "sh", "-c", f"echo -e 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 1 {srv_ip} 80")
        assert "srv" not in r.stdout
        docker("network", "connect", "--alias", "client", "--ip", "10.231.7.77", "n1", "cli", check=True)
        assert "10.231.7.77" in docker("exec", "cli", "ip", "addr").out
        assert docker("exec", "cli", "wget", "-qO-", "http://web/").out == "srv"
        assert docker("exec", "srv", "ping", "-c1", "client").returncode == 0
        again = docker("network", "connect", "n1", "cli")
        assert again.returncode != 0 and "already exists" in again.stderr
        docker("network", "disconnect", "n1", "cli", check=True)
        assert "10.231.7.77" not in docker("exec", "cli", "ip", "addr").out
        assert docker("network", "ls", "--filter", "label=k=v", "--format", "{{.Name}}").out == "n1"
        net_id = engine.inspect("srv")["NetworkSettings"]["Networks"]["n1"]["NetworkID"]
        for ref in ("n1", net_id):  # by name or by full ID, as Docker
            assert docker("ps", "--filter", f"network={ref}", "--format", "{{.Names}}").out == "srv"
    finally:
        docker("rm", "-f", "srv", "cli")
        docker("network", "rm", "n1")


def test_internal_network_has_no_way_out(docker) -> None:  # type: ignore[no-untyped-def]
    docker("network", "create", "--internal", "inside", check=True)
    try:
        routes = docker("run", "--rm", "--network", "inside", "busybox", "ip", "route").out
        assert "default" not in routes
    finally:
        docker("network", "rm", "inside")


def test_dns_options_and_hostname(docker) -> None:  # type: ignore[no-untyped-def]
    out = docker("run", "--rm", "--dns", "10.9.9.9", "--dns-search", "corp.example", "--dns-option", "ndots:2",
                 "--hostname", "box1", "busybox", "sh", "-c", "cat /etc/resolv.conf; hostname").out
    assert out.splitlines() == ["nameserver 10.9.9.9", "search corp.example", "options ndots:2", "box1"]


def test_host_and_none_networks(docker) -> None:  # type: ignore[no-untyped-def]
    links = docker("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link").out
    assert [line.split(":")[1].strip() for line in links.splitlines()] == ["lo"]
    host_links = docker("run", "--rm", "--network", "host", "busybox", "ip", "-o", "link").out
    assert len(host_links.splitlines()) > 1
    docker("run", "-d", "--name", "nsowner", "busybox", "sleep", "100", check=True)
    mine = docker("exec", "nsowner", "ip", "-o", "addr", "show", "eth0").out.split()[3]
    shared = docker("run", "--rm", "--network", "container:nsowner", "busybox", "ip", "-o", "addr", "show", "eth0").out.split()[3]
    assert mine == shared


def test_macvlan_with_a_dummy_parent(engine: EngineProcess, docker) -> None:  # type: ignore[no-untyped-def]
    # This kernel has no dummy driver: one end of a veth pair the test makes is the parent.
    parent = f"{engine.prefix}dm"
    subprocess.run(["ip", "link", "add", parent, "type", "veth", "peer", "name", f"{engine.prefix}dp"], check=True)
    try:
        subprocess.run(["ip", "link", "set", parent, "up"], check=True)
        docker("network", "create", "-d", "macvlan", "--subnet", "10.232.0.0/24", "-o", f"parent={parent}", "mvnet", check=True)
        out = docker("run", "--rm", "--network", "mvnet", "busybox", "ip", "-o", "addr", "show", "eth0").out
        assert "10.232.0.2/24" in out
        docker("network", "rm", "mvnet", check=True)
    finally:
        subprocess.run(["ip", "link", "del", parent], check=False)


@pytest.mark.parametrize("args,needle", [
    (["--subnet", "10.240.0.0/33"], "invalid CIDR"),
    (["--subnet", "not-a-cidr"], "invalid CIDR"),
    (["--subnet", "10.240.1.0/24", "--gateway", "10.240.2.1"], "no matching subnet for gateway"),
    (["--subnet", "10.240.1.0/24", "--ip-range", "10.241.0.0/25"], "no matching subnet for range"),
    (["-d", "nosuchdriver"], "not found"),
])
def test_bad_network_options(engine: EngineProcess, docker, args: list[str], needle: str) -> None:  # type: ignore[no-untyped-def]
    before = _links(engine.prefix)
    r = docker("network", "create", *args, "badnet")
    assert r.returncode != 0 and needle in r.stderr, r.stderr
    assert docker("network", "ls", "--filter", "name=badnet", "-q").out == ""
    assert _links(engine.prefix) == before


def test_overlapping_subnets_and_unknown_networks(docker) -> None:  # type: ignore[no-untyped-def]
    docker("network", "create", "--subnet", "10.233.0.0/16", "ov1", check=True)
    try:
        r = docker("network", "create", "--subnet", "10.233.5.0/24", "ov2")
        assert r.returncode != 0 and "overlaps" in r.stderr
        r = docker("run", "--rm", "--network", "no-such-net", "busybox", "true")
        assert r.returncode != 0 and "network no-such-net not found" in r.stderr
        r = docker("network", "rm", "bridge")
        assert r.returncode != 0 and "pre-defined" in r.stderr
    finally:
        docker("network", "rm", "ov1")


def test_network_prune_and_ls_filters(docker) -> None:  # type: ignore[no-untyped-def]
    docker("network", "create", "p1", check=True)
    assert "p1" in docker("network", "ls", "--filter", "type=custom", "--format", "{{.Name}}").out.split()
    assert docker("network", "ls", "--filter", "driver=null", "--format", "{{.Name}}").out == "none"
    out = docker("network", "prune", "-f", check=True).out
    assert "p1" in out
    assert docker("network", "ls", "--filter", "name=p1", "-q").out == ""


def test_dns_and_ports_survive_an_engine_restart(engine: EngineProcess, docker) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    docker("network", "create", "keepnet", check=True)
    try:
        docker("run", "-d", "--network", "keepnet", "--name", "k1", "-p", f"{port}:80", "busybox", "sh", "-c",
               SERVE.format(text="k1", port=80), check=True)
        docker("run", "-d", "--network", "keepnet", "--name", "k2", "busybox", "sleep", "300", check=True)
        assert http_get(f"http://127.0.0.1:{port}/") == "k1\n"
        engine.kill9()
        engine.start()
        assert docker("exec", "k2", "wget", "-qO-", "http://k1/").out == "k1"
        assert http_get(f"http://127.0.0.1:{port}/") == "k1\n"
    finally:
        docker("rm", "-f", "k1", "k2")
        docker("network", "rm", "keepnet")


def _links(prefix: str) -> list[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return sorted(line.split(":")[1].strip().split("@")[0] for line in out.splitlines()
                  if line.split(":")[1].strip().startswith(prefix))


def _table(engine: EngineProcess) -> str:
    return subprocess.run(["nft", "list", "table", "ip", engine.nft_table], capture_output=True, text=True).stdout
