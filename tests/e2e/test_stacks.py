"""The course's stack from the console's editor, in a real browser against the real stack
(tests/e2e/conftest.py) with a real Celery worker started here for the deploy and remove jobs.

The app and db images are built through the engine beforehand (a stack written in the console has no
build context; an image that exists is used, as docker-compose up does), and the app gets a healthcheck
(its page answers) so that both services can show healthy. Sign in; open Stacks; paste
the course's compose file in the editor — first with a typo, whose line-numbered problem shows at once —;
set the APP_PORTS variable; deploy; watch the job's progress; open the stack: both services healthy,
their logs combined; db stopped and started behind the page's back shows live; GET the app's port; remove the stack (named volume kept). Screenshots of each step.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.compat.test_networks import free_range, http_get
from tests.console.stacks_support import build_course_images, cleanup_project, course_text, project_name
from tests.e2e.test_walkthrough import sign_in
from tests.support.console import ConsoleServer
from tests.support.engine import REPO, EngineProcess

CELERY = Path(sys.executable).with_name("celery")
DEPENDS = "    depends_on:\n      db:\n        condition: service_healthy\n"
# The course's app has no healthcheck; this one (its page answers) lets the stack page show both services healthy.
APP_HEALTH = ('    healthcheck:\n      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:3000/"]\n'
              "      interval: 1s\n      retries: 30\n")


@pytest.fixture
def worker(console_server: ConsoleServer, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A Celery worker for the console under test (its own process group, ended after the test)."""
    log = open(tmp_path / "worker.log", "ab")
    proc = subprocess.Popen([str(CELERY), "-A", "console", "worker", "-c", "1", "--pool", "solo", "-n", "e2e-stacks@%h",
                             "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
                            cwd=REPO, env=console_server.env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture
def course(engine: EngineProcess, tmp_path_factory):  # type: ignore[no-untyped-def]
    """(project name, compose text, first host port): images built, everything removed afterwards."""
    suffix = project_name()
    tags = build_course_images(engine, tmp_path_factory.mktemp("course"), suffix)
    name = f"course{suffix[2:]}"
    text = course_text(tags).replace(DEPENDS, DEPENDS + APP_HEALTH)
    assert APP_HEALTH in text
    yield name, text, free_range(11)
    cleanup_project(engine, name)
    engine.docker("rmi", "-f", *tags.values())


def wait_for_job(page: Page, shoot, label: str) -> None:  # type: ignore[no-untyped-def]
    expect(page).to_have_url(re.compile(r"/jobs/\d+/"))
    shoot(page, f"{label}-job-running")
    expect(page.locator("[data-job-state]")).to_have_text(re.compile("Succeeded"), timeout=120_000)
    shoot(page, f"{label}-job-done", full_page=True)


def test_the_course_stack_from_the_editor(page: Page, console_server: ConsoleServer, engine: EngineProcess, worker,
                                          course, shoot) -> None:  # type: ignore[no-untyped-def]
    name, text, port = course
    sign_in(page, console_server, shoot)
    page.get_by_role("navigation").get_by_role("link", name="Stacks").click()
    expect(page.get_by_role("heading", name="Stacks", exact=True)).to_be_visible()
    shoot(page, "stacks-empty")
    page.get_by_role("link", name="Add stack").click()

    page.get_by_label("Name").first.fill(name)
    editor = page.locator("#id_compose")
    editor.fill(text.replace("      - MYSQL_ROOT_PASSWORD=secret\n    healthcheck:", "      - MYSQL_ROOT_PASSWORD=secret\n    healthchek:"))
    problems = page.locator("[data-problems] li")
    expect(problems.first).to_contain_text(re.compile(r"line \d+: services\.db\.healthchek: 'healthchek' is not allowed"))
    expect(page.locator(".code-editor .line-bad")).to_have_count(1)
    shoot(page, "stack-editor-problem", full_page=True)

    editor.fill(text)
    page.get_by_role("button", name="Add a variable").click()
    row = page.locator(".var-row").last
    row.get_by_label("Name").fill("APP_PORTS")
    row.get_by_label("Value").fill(f"{port}-{port + 10}")
    expect(page.locator("[data-validate-state]")).to_have_text(re.compile(r"Valid: 2 services \(app, db\)"))
    expect(problems).to_have_count(0)
    shoot(page, "stack-editor-valid", full_page=True)
    page.get_by_role("button", name="Deploy the stack").click()
    wait_for_job(page, shoot, "deploy")
    expect(page.locator(".job-log, [data-job-log], pre").first).to_contain_text("db is healthy")

    page.get_by_role("navigation").get_by_role("link", name="Stacks").click()
    expect(page.locator(f'tr[data-stack="{name}"]')).to_contain_text("2 of 2 running")
    shoot(page, "stacks-list")
    page.get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.locator("#stack-services [data-health]")).to_have_count(2)
    expect(page.locator("#stack-services [data-health]").nth(0)).to_have_text("healthy", timeout=30_000)
    expect(page.locator("#stack-services [data-health]").nth(1)).to_have_text("healthy", timeout=30_000)
    expect(page.locator("[data-logs]")).to_contain_text("app_1")
    expect(page.locator("[data-logs]")).to_contain_text("db_1")
    expect(page.locator("[data-logs]")).to_contain_text("db ready")
    assert "northwind" in http_get(f"http://127.0.0.1:{port}/")
    shoot(page, "stack-page", full_page=True)
    # live: the engine's events update the table without a reload
    engine.docker("stop", f"{name}_db_1", check=True)
    db_state = page.locator(f'#stack-services tr[data-container="{name}_db_1"] [data-state]')
    expect(db_state).to_have_text("exited", timeout=20_000)
    expect(page.locator("#stack-state")).to_have_text("partly running")
    shoot(page, "stack-page-db-stopped")
    engine.docker("start", f"{name}_db_1", check=True)
    expect(db_state).to_have_text("running", timeout=20_000)
    expect(page.locator("#stack-state")).to_have_text("running")

    page.get_by_role("button", name="Remove").click()
    dialog = page.locator("#remove-dialog")
    expect(dialog.get_by_text("Named volumes are kept")).to_be_visible()
    shoot(page, "stack-remove-dialog")
    dialog.get_by_role("button", name="Remove stack").click()
    wait_for_job(page, shoot, "remove")
    assert engine.docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={name}").stdout.strip() == ""
    assert engine.docker("network", "inspect", f"{name}_app-net").returncode != 0
    assert engine.docker("volume", "inspect", f"{name}_data").returncode == 0
    page.get_by_role("navigation").get_by_role("link", name="Stacks").click()
    expect(page.get_by_text("No stacks yet")).to_be_visible()
    page.get_by_role("link", name="App templates").click()
    expect(page.get_by_text("redis:7-alpine is not on this endpoint")).to_be_visible()
    shoot(page, "app-templates", full_page=True)
    page.get_by_role("link", name="Use this template").first.click()
    expect(page.get_by_label("Host port")).to_have_value("8088")
    shoot(page, "app-template-form")
