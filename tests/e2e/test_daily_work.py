"""A new user's daily container work, in a real browser against the real stack (tests/e2e/conftest.py), with a
real Celery worker and the notification watcher started here (their own processes, against the console's
database and Redis), a local registry (Debian's docker-registry on loopback) and a webhook receiver on
127.0.0.1.

Issue 9's "Done when", once: add an "unhealthy" notification rule pointing at the receiver; pull an image from
the local registry (per-layer progress on the job's page); build an image from the web editor and watch its
log; create a network and a volume and run a container on them (its health check fails on purpose); stop it
with a bulk action (a job, followed in place); export the volume, download the tar, remove the volume, import
the tar back and find the data in the file browser; see the "unhealthy" notification arrive at the receiver
and listed as sent. Each step is saved as a screenshot.
"""

from __future__ import annotations

import re
import secrets
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_walkthrough import sign_in
from tests.support.console import ConsoleServer
from tests.support.engine import EngineProcess
from tests.support.registry import Registry, start_registry
from tests.support.webhook import WebhookReceiver

pytestmark = pytest.mark.skipif(shutil.which("docker-registry") is None, reason="Debian's docker-registry is not installed")

DATA = "restored-by-e2e"
# Writes the volume's data, then idles; the health check looks for a file that never appears: "unhealthy".
COMMAND = (f"sh -c 'echo {DATA} > /data/hello.txt; mkdir -p /data/notes && echo kept > /data/notes/a.txt; "
           "trap \"exit 0\" TERM; while true; do sleep 1; done'")


@pytest.fixture
def background(console_server: ConsoleServer) -> Iterator[ConsoleServer]:
    """A Celery worker and the notification watcher for the console under test, ended after the test."""
    worker, watcher = console_server.start_worker("daily"), console_server.start_watcher()
    try:
        yield console_server
    finally:
        console_server.stop_process(watcher)
        console_server.stop_process(worker)


@pytest.fixture
def registry(tmp_path: Path, engine: EngineProcess) -> Iterator[tuple[Registry, str]]:
    """A local registry holding busybox under a tag of this test (pushed through the engine), not on the engine."""
    reg = start_registry(tmp_path / "registry")
    tag = f"{reg.host}/e2e/busybox-{secrets.token_hex(3)}:1"
    try:
        engine.docker("tag", "busybox", tag, check=True)
        engine.docker("push", tag, check=True)
        engine.docker("rmi", tag, check=True)
        yield reg, tag
    finally:
        engine.docker("rmi", "-f", tag)
        reg.stop()


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def names(engine: EngineProcess) -> Iterator[dict[str, str]]:
    tag = secrets.token_hex(3)
    made = {"container": f"e2e-app-{tag}", "volume": f"e2e-data-{tag}", "network": f"e2e-net-{tag}",
            "image": f"e2e-built-{tag}:1", "rule": f"App unhealthy {tag}"}
    yield made
    engine.docker("rm", "-f", made["container"])
    engine.docker("volume", "rm", "-f", made["volume"])
    engine.docker("network", "rm", made["network"])
    engine.docker("rmi", "-f", made["image"])


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation").get_by_role("link", name=name, exact=True).click()


def wait_for_job(page: Page, shoot, label: str, timeout: float = 120_000) -> None:  # type: ignore[no-untyped-def]
    expect(page).to_have_url(re.compile(r"/jobs/\d+/$"))
    shoot(page, f"{label}-job")
    expect(page.locator("[data-job-state]")).to_have_text(re.compile("Succeeded"), timeout=timeout)
    expect(page.locator("[data-job-error]")).to_be_hidden()
    page.wait_for_timeout(400)  # the bar's transition to its end, for the screenshots


def add_unhealthy_rule(page: Page, names: dict[str, str], hook: WebhookReceiver, shoot) -> None:  # type: ignore[no-untyped-def]
    nav(page, "Notifications")
    page.get_by_role("link", name=re.compile("Add (a )?rule")).first.click()
    page.get_by_label("Name", exact=True).fill(names["rule"])
    page.get_by_label("When").select_option("unhealthy")
    page.get_by_label("Webhook URL").fill(hook.url)
    shoot(page, "notification-rule-form")
    page.get_by_role("button", name="Add rule").click()
    expect(page.get_by_role("cell", name=names["rule"], exact=True)).to_be_visible()


def pull_from_the_registry(page: Page, tag: str, shoot) -> None:  # type: ignore[no-untyped-def]
    nav(page, "Images")
    page.get_by_role("link", name="Pull image").click()
    page.get_by_label("Image").fill(tag)
    page.get_by_role("button", name="Pull", exact=True).click()
    wait_for_job(page, shoot, "pull")
    items = page.locator("[data-job-items] tr")
    expect(items.first).to_be_visible()  # a bar per layer
    expect(page.locator("[data-job-items] [data-item-status]").first).to_have_text(re.compile("Pull complete|Already exists|Downloaded"))
    shoot(page, "pull-done", full_page=True)


def build_from_the_editor(page: Page, names: dict[str, str], shoot) -> None:  # type: ignore[no-untyped-def]
    nav(page, "Images")
    page.get_by_role("link", name="Build").click()
    page.locator("#id_text").fill("FROM busybox\nRUN echo built-by-the-e2e-test && echo hello > /greeting\nCMD cat /greeting\n")
    page.get_by_label("Tags").fill(names["image"])
    shoot(page, "build-editor")
    page.get_by_role("button", name="Build", exact=True).click()
    wait_for_job(page, shoot, "build")
    expect(page.locator("[data-job-log]")).to_contain_text("built-by-the-e2e-test")
    shoot(page, "build-done", full_page=True)


def create_network_and_volume(page: Page, names: dict[str, str], shoot) -> None:  # type: ignore[no-untyped-def]
    nav(page, "Networks")
    page.get_by_role("link", name="Create network").first.click()
    page.get_by_label("Name", exact=True).fill(names["network"])
    page.get_by_role("button", name="Create network").click()
    expect(page.get_by_role("heading", name=names["network"])).to_be_visible()
    shoot(page, "network-created")
    nav(page, "Volumes")
    page.get_by_role("link", name="Create volume").first.click()
    page.locator("#id_name").fill(names["volume"])
    page.get_by_role("button", name="Create volume").click()
    expect(page.get_by_role("heading", name=names["volume"])).to_be_visible()
    shoot(page, "volume-created")


def run_on_them(page: Page, names: dict[str, str], engine: EngineProcess, shoot) -> None:  # type: ignore[no-untyped-def]
    nav(page, "Containers")
    page.get_by_role("link", name="Create container").click()
    page.locator("#id_image").fill(names["image"])
    page.locator("#id_name").fill(names["container"])
    page.locator("#id_command").fill(COMMAND)
    volume = page.locator('[data-rows="volumes"] tr[data-row]').first
    volume.get_by_label("Source").fill(names["volume"])
    volume.get_by_label("Target").fill("/data")
    page.locator("#id_network").fill(names["network"])
    page.locator("#sec-health").click()
    page.locator("#id_health_command").fill("test -f /tmp/never-there")
    page.locator("#id_health_interval").fill("1s")
    page.locator("#id_health_retries").fill("2")
    page.get_by_role("button", name="Create and start").click()
    expect(page.get_by_text(f"Created and started {names['container']}")).to_be_visible()
    spec = engine.inspect(names["container"])
    assert names["network"] in spec["NetworkSettings"]["Networks"]
    assert [(m["Name"], m["Destination"]) for m in spec["Mounts"]] == [(names["volume"], "/data")]
    row = page.locator("#container-rows tr", has=page.get_by_role("link", name=names["container"], exact=True))
    expect(row.locator(".col-health .badge-unhealthy")).to_be_visible(timeout=30_000)
    shoot(page, "container-unhealthy")


def stop_with_a_bulk_action(page: Page, names: dict[str, str], engine: EngineProcess, shoot) -> None:  # type: ignore[no-untyped-def]
    row = page.locator("#container-rows tr", has=page.get_by_role("link", name=names["container"], exact=True))
    row.get_by_role("checkbox").check()
    page.locator("#bulk-form").get_by_role("button", name="Stop", exact=True).click()
    panel = page.locator("#bulk-results [data-job-panel]")
    expect(panel).to_be_visible()
    expect(panel.locator("[data-job-state]")).to_have_text(re.compile("Succeeded"), timeout=60_000)
    expect(panel.locator("[data-job-status]")).to_have_text("Stopped 1 container.")
    expect(row.locator(".col-state")).to_have_text("exited", timeout=15_000)
    expect(page.locator("[data-jobs-count]")).to_be_hidden()  # the sidebar's count of running jobs
    page.wait_for_timeout(500)  # the bar's transition to its end
    shoot(page, "bulk-stop-done")
    assert engine.inspect(names["container"])["State"]["Status"] == "exited"
    engine.docker("rm", names["container"], check=True)  # the volume is free to go


def export_download_remove(page: Page, names: dict[str, str], tmp_path: Path, shoot) -> Path:  # type: ignore[no-untyped-def]
    nav(page, "Volumes")
    page.get_by_role("link", name=names["volume"], exact=True).click()
    page.get_by_role("button", name="Export as tar").click()
    wait_for_job(page, shoot, "export")
    shoot(page, "export-done")
    with page.expect_download() as got:
        page.get_by_role("link", name=re.compile(r"^Download .*\.tar$")).click()
    archive = tmp_path / "backup.tar"
    got.value.save_as(archive)
    with tarfile.open(archive) as t:
        assert {"./hello.txt", "./notes/a.txt"} <= set(t.getnames())
    page.get_by_role("link", name="Open volume").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove", exact=True).click()
    expect(page.get_by_text(f"Removed volume {names['volume']}.")).to_be_visible()
    expect(page.get_by_role("link", name=names["volume"], exact=True)).to_have_count(0)
    shoot(page, "volume-removed")
    return archive


def import_and_find_the_data(page: Page, names: dict[str, str], archive: Path, engine: EngineProcess, shoot) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("link", name="Import a tar").click()
    evil = archive.with_name("evil.tar")
    with tarfile.open(evil, "w") as t:  # a member that would land outside the volume: refused, nothing made
        t.add(archive, arcname="../outside.tar")
    page.get_by_label("Volume").fill(names["volume"])
    page.get_by_label("Archive").set_input_files(str(evil))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator(".field-error")).to_contain_text("is not a path inside the volume")
    assert engine.docker("volume", "inspect", names["volume"]).returncode != 0
    shoot(page, "import-refused")
    page.get_by_label("Volume").fill(names["volume"])
    page.get_by_label("Archive").set_input_files(str(archive))
    shoot(page, "import-form")
    page.get_by_role("button", name="Import", exact=True).click()
    wait_for_job(page, shoot, "import")
    expect(page.locator("[data-job-status]")).to_contain_text("Imported")
    shoot(page, "import-done")
    page.get_by_role("link", name="Browse files").click()
    expect(page.get_by_role("link", name="hello.txt")).to_be_visible()
    shoot(page, "volume-files-root")
    page.get_by_role("link", name="notes/").click()
    expect(page.get_by_role("link", name="a.txt")).to_be_visible()
    shoot(page, "volume-files-restored")
    back = engine.docker("run", "--rm", "-v", f"{names['volume']}:/d", "busybox", "cat", "/d/hello.txt")
    assert back.stdout.strip() == DATA, back.stderr


def notification_arrived(page: Page, console: ConsoleServer, names: dict[str, str], hook: WebhookReceiver,
                         shoot) -> None:  # type: ignore[no-untyped-def]
    try:
        body = hook.wait_for(lambda b: b["kind"] == "unhealthy" and b["container"]["name"] == names["container"], timeout=60)
    except AssertionError as exc:
        shoot(page, "notification-missing")
        raise AssertionError(f"{exc}\nwatcher:\n{console.background_log('watcher')}\n"
                             f"worker:\n{console.background_log('worker-daily')}") from None
    assert body["rule"] == names["rule"] and body["endpoint"] == "local" and not body["test"]
    nav(page, "Notifications")  # the deliveries list under the rules refreshes itself every 5 s
    row = page.locator("tr", has_text=names["container"]).first
    expect(row.locator(".badge")).to_have_text("sent", timeout=20_000)
    shoot(page, "notification-sent")
    nav(page, "Volumes")
    expect(page.get_by_role("link", name=names["volume"], exact=True)).to_be_visible()
    shoot(page, "volumes-list")


def test_a_new_users_daily_work(page: Page, console_server: ConsoleServer, engine: EngineProcess, background, registry,
                                hook: WebhookReceiver, names: dict[str, str], tmp_path: Path, shoot) -> None:  # type: ignore[no-untyped-def]
    page.set_default_timeout(30_000)
    sign_in(page, console_server, shoot)
    add_unhealthy_rule(page, names, hook, shoot)
    pull_from_the_registry(page, registry[1], shoot)
    build_from_the_editor(page, names, shoot)
    create_network_and_volume(page, names, shoot)
    run_on_them(page, names, engine, shoot)
    stop_with_a_bulk_action(page, names, engine, shoot)
    archive = export_download_remove(page, names, tmp_path, shoot)
    import_and_find_the_data(page, names, archive, engine, shoot)
    notification_arrived(page, console_server, names, hook, shoot)
