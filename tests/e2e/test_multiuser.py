"""Several people on one console, in a real browser (tests/e2e/conftest.py).

Two teams, red and blue, each own a container on the endpoint "local". Alice (red, standard user) and
Bob (blue, standard user) each see only their team's container. Olga (red, operator) can restart the red
container but has no Remove button, and a forged remove is refused. Rita (red, read-only) reads its logs
but gets no terminal. Screenshots of each view.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.support.console import ConsoleServer
from tests.support.engine import EngineProcess

PASSWORD = "multi-user-e2e-password-7"
LOOP = 'trap "exit 0" TERM; i=0; while true; do i=$((i+1)); echo "line $i"; sleep 1; done'

SETUP = """
from django.contrib.auth import get_user_model
from console.accounts.models import EndpointRole, ResourceControl, Team
from console.endpoints.models import Endpoint
local = Endpoint.objects.get(name="local")
users = get_user_model().objects
teams = {{name: Team.objects.get_or_create(name=name)[0] for name in ("red", "blue")}}
for name, team, role in (("alice", "red", None), ("bob", "blue", None), ("olga", "red", "operator"), ("rita", "red", "readonly")):
    user = users.filter(username=name).first() or users.create_user(name, password="{password}")
    teams[team].members.add(user)
    if role:
        EndpointRole.objects.update_or_create(endpoint=local, user=user, defaults={{"role": role}})
for name in ("red", "blue"):
    EndpointRole.objects.update_or_create(endpoint=local, team=teams[name], defaults={{"role": "standard"}})
for cid, name, team in (("{red_id}", "{red}", "red"), ("{blue_id}", "{blue}", "blue")):
    ResourceControl.objects.update_or_create(endpoint=local, kind="container", resource_id=cid,
        defaults={{"name": name, "ownership": "team", "owner_team": teams[team]}})
"""


@pytest.fixture
def crew(console_server: ConsoleServer, engine: EngineProcess) -> Iterator[dict[str, str]]:
    """Two containers, one per team, and the people; the containers are removed afterwards."""
    tag = secrets.token_hex(3)
    names = {"red": f"e2e-red-{tag}", "blue": f"e2e-blue-{tag}"}
    ids = {}
    for team, name in names.items():
        made = engine.docker("run", "-d", "--name", name, "busybox", "sh", "-c", LOOP)
        assert made.returncode == 0, made.stderr
        ids[team] = made.stdout.strip()
    console_server.manage("shell", "-c", SETUP.format(password=PASSWORD, red_id=ids["red"], blue_id=ids["blue"], **names))
    yield {**names, "red_id": ids["red"], "blue_id": ids["blue"]}
    engine.docker("rm", "-f", *names.values())


def sign_in_as(page: Page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("heading", name="local", exact=True)).to_be_visible()


def containers_page(page: Page) -> None:
    page.get_by_role("link", name="Containers").first.click()
    expect(page.get_by_role("heading", name="Containers")).to_be_visible()


def test_two_teams_each_see_only_their_own_containers(page: Page, crew: dict[str, str], shoot) -> None:  # type: ignore[no-untyped-def]
    sign_in_as(page, "alice")
    shoot(page, "alice-dashboard")
    containers_page(page)
    table = page.locator("#containers-table, table").first
    expect(table).to_contain_text(crew["red"])
    expect(page.locator("body")).not_to_contain_text(crew["blue"])
    expect(page.get_by_role("link", name="Create container")).to_be_visible()  # standard users create
    expect(page.get_by_role("link", name="Activity log")).to_have_count(0)  # no administration for them
    shoot(page, "alice-containers")
    page.goto(f"/endpoints/{page.url.split('/endpoints/')[1].split('/')[0]}/containers/{crew['blue_id'][:12]}/")
    expect(page.locator("body")).to_contain_text("403")  # the other team's container, even by its URL
    page.context.clear_cookies()

    sign_in_as(page, "bob")
    containers_page(page)
    expect(page.locator("table").first).to_contain_text(crew["blue"])
    expect(page.locator("body")).not_to_contain_text(crew["red"])
    shoot(page, "bob-containers")


def test_an_operator_restarts_but_cannot_remove(page: Page, crew: dict[str, str], shoot) -> None:  # type: ignore[no-untyped-def]
    sign_in_as(page, "olga")
    containers_page(page)
    expect(page.get_by_role("link", name="Create container")).to_have_count(0)
    page.get_by_role("link", name=crew["red"]).click()
    expect(page.get_by_role("heading", name=crew["red"])).to_be_visible()
    actions = page.locator("#c-actions")
    expect(actions.get_by_role("button", name="Restart")).to_be_visible()
    expect(actions.get_by_role("button", name="Remove")).to_have_count(0)
    shoot(page, "operator-container")
    actions.get_by_role("button", name="Restart").click()
    expect(page.locator("#toasts")).to_contain_text(re.compile(r"Restarted"))
    shoot(page, "operator-restarted")
    # A remove forged by hand (the page's own CSRF token) is refused.
    eid = page.url.split("/endpoints/")[1].split("/")[0]
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    forged = page.request.post(f"/endpoints/{eid}/containers/{crew['red_id']}/do/remove/",
                               headers={"X-CSRFToken": token or ""}, max_redirects=0)
    assert forged.status == 403
    page.reload()
    expect(page.get_by_role("heading", name=crew["red"])).to_be_visible()  # still there


def test_a_read_only_user_reads_logs_but_has_no_terminal(page: Page, crew: dict[str, str], shoot) -> None:  # type: ignore[no-untyped-def]
    sign_in_as(page, "rita")
    containers_page(page)
    page.get_by_role("link", name=crew["red"]).click()
    expect(page.get_by_role("heading", name=crew["red"])).to_be_visible()
    expect(page.locator("#c-actions").get_by_role("button")).to_have_count(0)
    expect(page.get_by_role("tab", name="Terminal")).to_have_count(0)
    page.get_by_role("tab", name="Logs").click()
    expect(page.locator("#log-view")).to_contain_text("line ")
    shoot(page, "readonly-logs")


def test_an_administrator_manages_people_access_and_security(page: Page, console_server: ConsoleServer,
                                                             crew: dict[str, str], shoot) -> None:  # type: ignore[no-untyped-def]
    """The administration pages, with the keyboard where a person would use it; screenshots of each."""
    page.goto("/login/")
    page.get_by_label("Username").fill(console_server.username)
    page.get_by_label("Password").fill(console_server.password)
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("link", name="Users")).to_be_visible()
    page.get_by_role("link", name="Users").click()
    name = f"dora{secrets.token_hex(2)}"
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill("password")
    page.get_by_role("button", name="Add user").click()
    expect(page.locator(".field-error")).to_contain_text("too common")  # the password policy
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("link", name=name)).to_be_visible()
    shoot(page, "admin-users", full_page=True)
    page.get_by_role("link", name="Teams").first.click()
    page.get_by_role("link", name="red").click()
    page.get_by_label("User").select_option(label=name)
    page.get_by_role("button", name="Add").click()
    expect(page.locator("table")).to_contain_text(name)
    shoot(page, "admin-team")
    page.get_by_role("link", name="Access").click()
    expect(page.get_by_role("heading", name="Access")).to_be_visible()
    expect(page.locator("table")).to_contain_text("Team red")
    shoot(page, "admin-access")
    page.get_by_role("link", name="Security settings").click()
    expect(page.get_by_label("--privileged containers and privileged exec", exact=False)).to_have_count(0)
    shoot(page, "admin-security", full_page=True)
    page.get_by_role("link", name="Activity log").click()
    page.get_by_label("Source address").fill("127.0.0.1")
    page.get_by_label("Source address").press("Enter")
    expect(page.locator("table")).to_contain_text("team.member_add")
    expect(page.locator("table")).to_contain_text("login.success")  # sign-ins are recorded too
    shoot(page, "admin-activity-filtered")
    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("e2e script")
    page.get_by_label("Name").press("Enter")
    expect(page.get_by_text("Copy your new token")).to_be_visible()
    shoot(page, "admin-token-made")
    page.get_by_role("link", name="Your account").first.click()
    page.get_by_role("link", name="Set up").click()
    expect(page.locator(".qr svg")).to_be_visible()
    shoot(page, "admin-2fa-setup")
