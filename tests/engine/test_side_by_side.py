"""Two engines on one host: different prefixes and pools, nothing shared, nothing left.

Also: outbound traffic is masqueraded (a container of one engine reaches a container
of the other and is seen with the other bridge's address), and everything keeps
working under a Docker-style FORWARD policy of DROP with a DOCKER-USER chain.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.support.engine import EngineProcess

SERVE_LOGGED = "mkdir -p /www; echo {text} > /www/index.html; exec httpd -f -v -p 80 -h /www"


@pytest.fixture
def second_engine() -> Iterator[EngineProcess]:
    if os.geteuid() != 0:
        pytest.skip("the engine needs root")
    e = EngineProcess()
    e.start()
    e.bootstrap_busybox()
    try:
        yield e
    finally:
        assert not e.cleanup()


def _ip(engine: EngineProcess, name: str) -> str:
    return engine.docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name, check=True).out


def test_two_engines_side_by_side(engine: EngineProcess, second_engine: EngineProcess) -> None:
    a, b = engine, second_engine
    assert a.pool != b.pool and a.prefix != b.prefix
    a.docker("network", "create", "sbs", check=True)
    b.docker("network", "create", "sbs", check=True)
    try:
        b.docker("run", "-d", "--network", "sbs", "--name", "target", "busybox", "sh", "-c",
                 SERVE_LOGGED.format(text="from-b"), check=True)
        a.docker("run", "-d", "--network", "sbs", "--name", "client", "busybox", "sleep", "300", check=True)
        target_ip = _ip(b, "target")
        assert target_ip.startswith(b.pool.split(".0.0/")[0])
        # masquerade: a's container leaves through b's bridge with b's gateway address
        for _ in range(30):
            if a.docker("exec", "client", "wget", "-qO-", f"http://{target_ip}/").out == "from-b":
                break
            time.sleep(0.1)
        else:
            raise AssertionError("engine A's container could not reach engine B's container")
        b_gateway = b.docker("network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", "sbs", check=True).out
        assert b_gateway in b.docker("logs", "target").stderr
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        assert any(f": {a.prefix}" in line for line in links.splitlines())
        assert any(f": {b.prefix}" in line for line in links.splitlines())
        tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
        assert f"table ip {a.nft_table}" in tables and f"table ip {b.nft_table}" in tables
        # removing b's network leaves a's alone
        b.docker("rm", "-f", "target", check=True)
        b.docker("network", "rm", "sbs", check=True)
        assert a.docker("network", "inspect", "sbs").returncode == 0
    finally:
        a.docker("rm", "-f", "client")
        a.docker("network", "rm", "sbs")


def _nft(script: str) -> None:
    subprocess.run(["nft", "-f", "-"], input=script, text=True, check=True)


def test_works_under_dockers_forward_drop_policy(engine: EngineProcess) -> None:
    """Docker sets FORWARD to DROP and gives users DOCKER-USER; the engine keeps its bridges open there."""
    existing = subprocess.run(["nft", "list", "chain", "ip", "filter", "DOCKER-USER"], capture_output=True).returncode == 0
    if not existing:
        _nft("table ip filter {\n chain DOCKER-USER { }\n chain FORWARD { type filter hook forward priority filter; policy drop; jump DOCKER-USER; }\n}\n")
    try:
        # routed, not bridged: a container reaches a published port through the gateway, so the
        # packet crosses the FORWARD hook after DNAT whether or not br_netfilter is loaded
        port = 20000 + int.from_bytes(os.urandom(2), "big") % 20000
        engine.docker("run", "-d", "--name", "dsrv", "-p", f"{port}:80", "busybox", "sh", "-c",
                      SERVE_LOGGED.format(text="through"), check=True)
        engine.docker("run", "-d", "--name", "dcli", "busybox", "sleep", "300", check=True)
        gateway = engine.docker("inspect", "-f", "{{.NetworkSettings.Gateway}}", "dsrv", check=True).out
        deadline = time.monotonic() + 15  # the engine re-checks Docker's chain every few seconds
        while time.monotonic() < deadline:
            if engine.docker("exec", "dcli", "wget", "-qO-", f"http://{gateway}:{port}/").out == "through":
                break
            time.sleep(0.5)
        else:
            raise AssertionError("forwarded traffic was dropped by the FORWARD policy")
        rules = subprocess.run(["nft", "list", "chain", "ip", "filter", "DOCKER-USER"], capture_output=True, text=True).stdout
        assert f"berth:{engine.nft_table}" in rules
    finally:
        engine.docker("rm", "-f", "dsrv", "dcli")
        if not existing:
            _nft("delete table ip filter\n")
