"""Environments against real engines: the session's Berth engine, a second Berth engine on TCP with mutual TLS
(certificates from `manage.py issue_engine_cert`, started with the exact line it prints), the real Docker
engine, and a silent one — the overview's cards, the grouped list's rows, TLS errors, "Add a Berth engine"."""

from __future__ import annotations

import io
import os
import re
import shlex
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command

from console.endpoints.models import Endpoint, Environment
from console.endpoints.overview import CARD_TIMEOUT
from console.endpoints.pki import console_ca
from tests.support.dockerd import Dockerd, start_dockerd
from tests.support.engine import EngineProcess

pytestmark = pytest.mark.django_db


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def tls_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EngineProcess, int]]:
    """A second Berth engine on tcp://127.0.0.1:<port> with --tlsverify, set up as the console tells a person to."""
    if os.geteuid() != 0:
        pytest.skip("the engine needs root")
    files = tmp_path_factory.mktemp("edge-tls")
    port = _free_port()
    out = io.StringIO()
    call_command("issue_engine_cert", "edge", "--host", "127.0.0.1", "--port", str(port), "--out", str(files), stdout=out)
    line = next(x.strip() for x in out.getvalue().splitlines() if x.strip().startswith("python -m engine"))
    argv = shlex.split(line)
    assert argv[:3] == ["python", "-m", "engine"]
    engine = EngineProcess()
    engine.start(argv[3:])  # the printed flags, as printed
    try:
        yield engine, port
    finally:
        leaks = engine.cleanup()
        assert not leaks, f"the TLS engine left things behind: {leaks}"


@pytest.fixture(scope="module")
def dockerd() -> Iterator[Dockerd]:
    d = start_dockerd()
    if d is None:
        pytest.skip("Debian's dockerd is not available")
    yield d
    d.stop()


@pytest.fixture
def silent_engine() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield f"tcp://127.0.0.1:{s.getsockname()[1]}"


def add_berth_engine(admin_client, port: int, environment: Environment | None = None) -> Endpoint:  # type: ignore[no-untyped-def]
    data = {"name": "edge", "host": "127.0.0.1", "port": str(port), "environment": str(environment.pk) if environment else ""}
    response = admin_client.post("/endpoints/add/berth/", data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    return Endpoint.objects.get(name="edge")


def card(admin_client, endpoint: Endpoint) -> tuple[str, float]:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    body = admin_client.get(f"/overview/{endpoint.pk}/card/").content.decode()
    return body, time.monotonic() - started


def numbers(body: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'data-(running|stopped|unhealthy)="(\d+)"', body)}


def test_add_a_berth_engine_then_test_the_connection(admin_client, tls_engine) -> None:  # type: ignore[no-untyped-def]
    _engine, port = tls_engine
    edge = add_berth_engine(admin_client, port)
    assert edge.url == f"tcp://127.0.0.1:{port}" and edge.uses_tls
    result = admin_client.post(f"/endpoints/{edge.pk}/setup/", HTTP_HX_REQUEST="true").content.decode()
    assert "Connected to Berth Engine" in result and "with mutual TLS" in result, result
    page = admin_client.post(f"/endpoints/{edge.pk}/setup/").content.decode()  # without htmx: the page, with the result
    assert "Connected to Berth Engine" in page and "<form" in page


def test_the_overview_across_berth_tls_docker_and_a_silent_engine(admin_client, endpoint, tls_engine, dockerd, docker,
                                                                  silent_engine) -> None:  # type: ignore[no-untyped-def]
    _engine, port = tls_engine
    docker("run", "-d", "--name", "env-bad", "--health-cmd", "false", "--health-interval", "1s", "--health-retries", "1",
           "busybox", "sleep", "300")
    docker("run", "--name", "env-done", "busybox", "true")
    wait_for(lambda: "(unhealthy)" in docker("ps", "--filter", "name=env-bad").stdout)
    production = Environment.objects.create(name="production", description="two Berth hosts")
    lab = Environment.objects.create(name="lab")
    endpoint.environment = production
    endpoint.save()
    edge = add_berth_engine(admin_client, port, production)
    real_docker = Endpoint.objects.create(name="real-docker", url=dockerd.host, environment=lab)
    silent = Endpoint.objects.create(name="silent", url=silent_engine, environment=lab)

    started = time.monotonic()
    page = admin_client.get("/overview/").content.decode()
    assert time.monotonic() - started < 1.0
    for e in (endpoint, edge, real_docker, silent):
        assert f'id="env-card-{e.pk}"' in page
    assert page.index(">lab<") < page.index(">production<")

    berth, took = card(admin_client, endpoint)
    assert took < 2.0 and 'data-health="reachable"' in berth and "Berth Engine" in berth
    counts = numbers(berth)
    assert counts["running"] >= 1 and counts["stopped"] >= 1 and counts["unhealthy"] >= 1, counts

    remote, took = card(admin_client, edge)
    assert took < 2.0 and 'data-health="reachable"' in remote and "Berth Engine" in remote, remote
    assert "TLS" in remote  # the lock badge: reached with mutual TLS

    docker_card, took = card(admin_client, real_docker)
    assert took < 3.0 and 'data-health="reachable"' in docker_card, docker_card
    assert "Berth Engine" not in docker_card and "Docker Engine" in docker_card

    silent_card, took = card(admin_client, silent)
    assert took < CARD_TIMEOUT + 2.0 and 'data-health="unreachable"' in silent_card

    rows = {e.name: admin_client.get(f"/endpoints/{e.pk}/row/").content.decode() for e in (edge, real_docker)}
    assert "Reachable" in rows["edge"] and "Berth Engine" in rows["edge"]
    assert "Reachable" in rows["real-docker"]
    listing = admin_client.get("/endpoints/").content.decode()
    assert listing.index(f'id="endpoint-row-{edge.pk}"') > listing.index(f'id="env-{production.pk}-title"')


def test_certificates_that_do_not_match_show_as_a_tls_error(admin_client, tls_engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _engine, port = tls_engine
    stranger_ca = console_ca(tmp_path / "stranger")
    ours = console_ca()
    foreign_client = stranger_ca.issue_client("intruder")
    refused = Endpoint.objects.create(name="foreign-client", url=f"tcp://127.0.0.1:{port}",
                                      tls_ca=ours.cert_pem, tls_cert=foreign_client.cert, tls_key=foreign_client.key)
    own_client = ours.issue_client("console@edge")
    distrusted = Endpoint.objects.create(name="wrong-ca", url=f"tcp://127.0.0.1:{port}",
                                         tls_ca=stranger_ca.cert_pem, tls_cert=own_client.cert, tls_key=own_client.key)
    for e, words in ((refused, "refused the console&#x27;s client certificate"), (distrusted, "certificate was not accepted")):
        body, took = card(admin_client, e)
        assert took < 2.0
        assert 'data-health="tls-error"' in body and words in body, body
        row = admin_client.get(f"/endpoints/{e.pk}/row/").content.decode()
        assert 'data-health="tls-error"' in row and "TLS error" in row
        dashboard = admin_client.get(f"/endpoints/{e.pk}/").content.decode()
        assert "the TLS handshake failed" in dashboard and f'href="/endpoints/{e.pk}/setup/"' in dashboard
    tested = admin_client.post(f"/endpoints/{distrusted.pk}/setup/", HTTP_HX_REQUEST="true").content.decode()
    assert "the TLS handshake failed" in tested
