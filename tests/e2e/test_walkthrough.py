"""A new user's first container, in a real browser against the real stack (tests/e2e/conftest.py).

Sign in; create a busybox web server through the form with a published port, an
environment variable, a named volume, a memory limit and a health check; watch it
turn healthy on the containers list without reloading; open its port link; watch
log lines arrive on its page; run `echo hi` in its terminal; stop and remove it.
Each page is saved as a screenshot.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.support.console import ConsoleServer
from tests.support.engine import EngineProcess

MEMORY_LIMIT = 64 * 1024 * 1024
# The page lives in the named volume; the greeting comes from the environment. A tick a second
# gives the log something to follow; the trap lets `stop` end PID 1 at once instead of after 10 s.
COMMAND = ("sh -c 'trap \"exit 0\" TERM; echo \"<h1>Hello from $GREETING</h1>\" > /www/index.html; "
           "httpd -p 80 -h /www; i=0; while true; i=$((i+1)); do echo \"tick $i\"; sleep 1; done'")


@pytest.fixture
def names(engine: EngineProcess):  # type: ignore[no-untyped-def]
    """A container and a volume name of this test; whatever is left of them is removed after it."""
    tag = secrets.token_hex(3)
    made = {"container": f"e2e-web-{tag}", "volume": f"e2e-www-{tag}"}
    yield made
    engine.docker("rm", "-f", made["container"])
    engine.docker("volume", "rm", "-f", made["volume"])


def sign_in(page: Page, console: ConsoleServer, shoot) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/"))
    page.get_by_label("Username").fill(console.username)
    page.get_by_label("Password").fill(console.password)
    shoot(page, "login")
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("heading", name="local", exact=True)).to_be_visible()
    shoot(page, "dashboard")


def fill_create_form(page: Page, names: dict[str, str]) -> None:
    page.locator("#id_image").fill("busybox")
    page.locator("#id_name").fill(names["container"])
    page.locator("#id_command").fill(COMMAND)
    ports = page.locator('[data-rows="ports"] tr[data-row]').first
    ports.get_by_label("Host IP").fill("127.0.0.1")
    ports.get_by_label("Container port").fill("80")
    env = page.locator('[data-rows="env"] tr[data-row]').first
    env.get_by_label("Name").fill("GREETING")
    env.get_by_label("Value").fill("berth-e2e")
    volume = page.locator('[data-rows="volumes"] tr[data-row]').first
    volume.get_by_label("Source").fill(names["volume"])
    volume.get_by_label("Target").fill("/www")
    page.locator("#sec-limits").click()  # the folded sections open on a click on their title
    page.locator("#id_memory").fill("64m")
    page.locator("#sec-health").click()
    page.locator("#id_health_command").fill("wget -q -O /dev/null http://127.0.0.1/")
    page.locator("#id_health_interval").fill("2s")  # the first probe runs 2 s after the start: the list shows "starting" first
    page.locator("#id_health_retries").fill("3")


def create_through_the_form(page: Page, names: dict[str, str], shoot) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("navigation").get_by_role("link", name="Containers").click()
    expect(page.get_by_role("heading", name="Containers", exact=True)).to_be_visible()
    shoot(page, "containers")
    page.get_by_role("link", name="Create container").click()
    fill_create_form(page, names)
    shoot(page, "create-form", full_page=True)
    page.get_by_role("button", name="Create and start").click()
    expect(page.get_by_text(f"Created and started {names['container']}")).to_be_visible()


def turns_healthy_in_place(page: Page, row: Locator) -> None:
    """The new row shows "starting", then "healthy" by itself: the marker set on the page survives, so no reload."""
    page.evaluate("window.__sameDocument = true")
    expect(row.locator(".col-state")).to_have_text("running")
    expect(row.locator(".col-health")).to_have_text("starting")
    expect(row.locator(".col-health .badge-healthy")).to_be_visible(timeout=20_000)
    assert page.evaluate("window.__sameDocument === true"), "the list reloaded instead of updating in place"


def open_port_link(page: Page, row: Locator, shoot) -> None:  # type: ignore[no-untyped-def]
    """The published port's link (on 127.0.0.1) opens, in a new tab, the page the container serves."""
    link = row.locator("a.port")
    href = link.get_attribute("href") or ""
    assert urlsplit(href).hostname == "127.0.0.1", href
    with page.context.expect_page() as opened:
        link.click()
    site = opened.value
    site.wait_for_load_state()
    if site.url.startswith("chrome-error://"):
        # Chromium fails connections that are being made when the host's interfaces change
        # (ERR_NETWORK_CHANGED), as they do whenever any engine on this host starts a container.
        site.goto(href)
    expect(site.get_by_role("heading", name="Hello from berth-e2e")).to_be_visible()
    shoot(site, "port-page")
    site.close()


def watch_the_container_page(page: Page, shoot) -> None:  # type: ignore[no-untyped-def]
    """Logs keep coming; health and stats tabs show live figures."""
    page.get_by_role("tab", name="Logs").click()
    log = page.locator("#log-view")
    expect(log).to_contain_text("tick ")
    last = max(int(n) for n in re.findall(r"tick (\d+)", log.inner_text()))
    expect(log).to_contain_text(f"tick {last + 2}", timeout=10_000)
    shoot(page, "container-logs")
    page.get_by_role("tab", name="Health").click()
    expect(page.locator("#panel-health")).to_contain_text("Healthy")
    shoot(page, "container-health")
    page.get_by_role("tab", name="Stats").click()
    expect(page.locator('[data-now="cpu"]')).to_have_text(re.compile(r"%$"))
    expect(page.locator('[data-now="mem"]')).to_have_text(re.compile(r"iB$"))
    shoot(page, "container-stats")


def echo_in_the_terminal(page: Page, shoot) -> None:  # type: ignore[no-untyped-def]
    """A shell with the default command; `echo hi` answers hi on a line of its own."""
    page.get_by_role("tab", name="Terminal").click()
    page.get_by_role("button", name="Connect").click()
    expect(page.locator("#term-live")).to_have_text("Connected")
    page.keyboard.type("echo hi")
    page.keyboard.press("Enter")
    rows = page.locator("#term .xterm-rows > div")
    expect(rows.filter(has_text=re.compile(r"^\s*hi\s*$"))).to_have_count(1)
    shoot(page, "container-terminal")
    page.get_by_role("button", name="Disconnect").click()


def stop_and_remove(page: Page, name: str, shoot) -> None:  # type: ignore[no-untyped-def]
    """Stop (health no longer claimed), then remove after the page's question: back on the list, without it."""
    page.get_by_role("tab", name="Overview").click()
    page.locator("#c-actions").get_by_role("button", name="Stop").click()
    expect(page.locator("#c-title .badge-exited")).to_be_visible(timeout=15_000)
    expect(page.locator("#c-title .badge-healthy")).to_have_count(0)
    shoot(page, "container-stopped")
    page.get_by_role("tab", name="Health").click()
    expect(page.locator("#panel-health")).to_contain_text("Not running")
    shoot(page, "container-stopped-health")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#c-actions").get_by_role("button", name="Remove").click()
    expect(page).to_have_url(re.compile(r"/containers/$"))
    expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)
    shoot(page, "containers-after-remove")


def test_a_new_user_runs_a_web_server_from_the_form(page: Page, console_server: ConsoleServer, engine: EngineProcess,
                                                     names: dict[str, str], shoot) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, console_server, shoot)
    create_through_the_form(page, names, shoot)
    row = page.locator("#container-rows tr", has=page.get_by_role("link", name=names["container"], exact=True))
    turns_healthy_in_place(page, row)
    shoot(page, "containers-healthy")

    spec = engine.inspect(names["container"])
    assert spec["HostConfig"]["Memory"] == MEMORY_LIMIT
    assert "GREETING=berth-e2e" in spec["Config"]["Env"]
    assert [(m["Type"], m["Name"], m["Destination"]) for m in spec["Mounts"]] == [("volume", names["volume"], "/www")]

    open_port_link(page, row, shoot)
    row.get_by_role("link", name=names["container"], exact=True).click()
    expect(page.locator("#c-title .badge-healthy")).to_be_visible()
    shoot(page, "container-overview")
    watch_the_container_page(page, shoot)
    echo_in_the_terminal(page, shoot)
    stop_and_remove(page, names["container"], shoot)
    assert engine.docker("inspect", names["container"]).returncode != 0
