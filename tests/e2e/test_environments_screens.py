"""Several engines in one console, in a real browser: make an environment, add a Berth engine with mutual TLS
(certificates from the console's CA, the engine started with the exact line `issue_engine_cert` prints), add the
real Docker engine and a silent engine, then look at the grouped endpoints list and the overview.
Screenshots: environments list, Berth engine set-up, overview."""

from __future__ import annotations

import re
import shlex
import socket
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.support.console import ConsoleServer
from tests.support.dockerd import Dockerd, start_dockerd
from tests.support.engine import EngineProcess


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
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


@pytest.fixture
def edge() -> Iterator[dict[str, object]]:
    """A port for a second Berth engine; the test starts it, this stops it and checks it left nothing behind."""
    made: dict[str, object] = {"port": _free_port(), "engine": None}
    yield made
    engine = made["engine"]
    if isinstance(engine, EngineProcess):
        assert not engine.cleanup()


@pytest.fixture
def forget_afterwards(console_server: ConsoleServer) -> Iterator[None]:
    """Leave the session's console as other browser tests expect it: one endpoint ("local"), no environments."""
    yield
    console_server.manage("shell", "-c", "from console.endpoints.models import Endpoint, Environment; "
                          "Endpoint.objects.exclude(name='local').delete(); Environment.objects.all().delete()")


def sign_in(page: Page, console: ConsoleServer) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(console.username)
    page.get_by_label("Password").fill(console.password)
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("heading", name="local", exact=True)).to_be_visible()


def add_endpoint(page: Page, name: str, url: str, environment: str) -> None:
    page.goto("/endpoints/add/")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Engine URL").fill(url)
    page.get_by_label("Environment").select_option(label=environment)
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_text(f"Endpoint {name} added.")).to_be_visible()


def test_one_console_for_several_engines(page: Page, console_server: ConsoleServer, forget_afterwards, edge, dockerd,
                                         silent_engine, tmp_path, shoot) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, console_server)
    for name, description in (("production", "Berth hosts behind the shop"), ("lab", "experiments; may be down")):
        page.goto("/endpoints/environments/add/")
        page.get_by_label("Name").fill(name)
        page.get_by_label("Description").fill(description)
        page.get_by_label("Description").press("Enter")
        expect(page.get_by_text(f"Environment {name} created.")).to_be_visible()

    # Add a Berth engine: step one issues the console's client certificate; step two shows the commands.
    port = edge["port"]
    page.goto("/endpoints/add/berth/")
    page.get_by_label("Name").fill("edge")
    page.get_by_label("Address").fill("127.0.0.1")
    page.get_by_label("Port").fill(str(port))
    page.get_by_label("Environment").select_option(label="production")
    page.get_by_role("button", name="Issue certificate and continue").click()
    expect(page.get_by_role("heading", name="Set up the engine edge")).to_be_visible()
    issue = page.locator("#issue-command").inner_text()
    assert issue == f"python manage.py issue_engine_cert edge --host 127.0.0.1 --port {port}"
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#connection-result")).to_contain_text("does not answer yet")
    shoot(page, "berth-engine-setup", full_page=True)

    # What the page says to run, run: the certificate from the console's CA, the engine with --tlsverify.
    printed = console_server.manage("issue_engine_cert", "edge", "--host", "127.0.0.1", "--port", str(port),
                                    "--out", str(tmp_path / "edge"))
    line = next(x.strip() for x in printed.splitlines() if x.strip().startswith("python -m engine"))
    engine = EngineProcess()
    edge["engine"] = engine
    engine.start(shlex.split(line)[3:])
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#connection-result")).to_contain_text("Connected to Berth Engine", timeout=15_000)
    expect(page.locator("#connection-result")).to_contain_text("with mutual TLS")

    add_endpoint(page, "docker", dockerd.host, "lab")
    add_endpoint(page, "silent", silent_engine, "lab")
    page.goto("/endpoints/")
    expect(page.locator("tr[data-health='reachable']")).to_have_count(3, timeout=20_000)  # local, edge, docker
    expect(page.locator("tr[data-health='unreachable']")).to_have_count(1, timeout=20_000)
    # Move the silent engine from lab to production with the row's Move menu; the page reloads grouped anew.
    row = page.locator("tr", has=page.get_by_role("link", name="silent", exact=True))
    row.get_by_title("Move to another environment").click()
    row.get_by_label("Environment of silent").select_option(label="production")
    row.get_by_role("button", name="Move", exact=True).click()
    expect(page.get_by_text("Endpoint silent moved to production.")).to_be_visible()
    production = page.locator("section.env-group", has=page.get_by_role("heading", name="production"))
    expect(production.locator("tr[data-health]")).to_have_count(2)
    expect(page.locator("tr[data-health='unreachable']")).to_have_count(1, timeout=20_000)
    shoot(page, "environments-list", full_page=True)

    started = time.monotonic()
    page.goto("/overview/")
    # The three answering engines show while the silent one is still being waited for: cards load on their own.
    expect(page.locator(".env-card[data-health='reachable']")).to_have_count(3, timeout=10_000)
    if time.monotonic() - started < 2.5:
        expect(page.locator(".env-card[data-health='checking']")).to_have_count(1)
    expect(page.locator(".env-card[data-health='unreachable']")).to_have_count(1, timeout=15_000)
    expect(page.locator("#env-totals")).to_contain_text(re.compile(r"3\s+reachable"))
    edge_card = page.locator(".env-card", has=page.get_by_role("link", name="edge", exact=True))
    expect(edge_card).to_contain_text("Berth Engine")
    shoot(page, "overview", full_page=True)
