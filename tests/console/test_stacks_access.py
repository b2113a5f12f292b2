"""Stacks for several users (issue 11): a standard user's stack is theirs (and, handed over, their team's);
nobody else sees it — list, page, REST API, logs websocket; an operator starts and stops but neither
removes nor redeploys; a read-only user sees and does nothing; limited projects are for administrators;
a non-administrator's stack with `privileged: true` is refused at deploy time and audited."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from console.accounts.models import (OPERATOR, OWNER_TEAM, OWNER_USER, READONLY, STANDARD, EndpointRole,
                                     ResourceControl, Team)
from console.audit.models import Activity
from console.jobs.framework import execute
from console.jobs.models import Job
from console.stacks.models import Stack
from tests.console.stacks_support import cleanup_project, project_name
from tests.console.test_stacks_pages import run_job
from tests.console.websockets import communicator, connect, receive_json_until, run

pytestmark = pytest.mark.django_db(transaction=True)

QUIET = """
services:
  web:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; echo hello from web; sleep 300 & wait"]
"""


@pytest.fixture
def crew(endpoint) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """alice (standard), olga (operator), rita (read-only) in team A; bob (standard) in team B; an admin."""
    users = get_user_model().objects
    tag = secrets.token_hex(3)
    team_a, team_b = Team.objects.create(name=f"a-{tag}"), Team.objects.create(name=f"b-{tag}")
    people = {}
    for name, role, team in (("alice", STANDARD, team_a), ("olga", OPERATOR, team_a), ("rita", READONLY, team_a),
                             ("bob", STANDARD, team_b)):
        user = users.create_user(f"{name}-{tag}", password="a-long-test-password-9")
        team.members.add(user)
        EndpointRole.objects.create(endpoint=endpoint, user=user, role=role)
        people[name] = user
    people["admin"] = users.create_superuser(f"root-{tag}", password="a-long-test-password-9")
    return {"people": people, "team_a": team_a}


@pytest.fixture
def name(engine):  # type: ignore[no-untyped-def]
    made = project_name()
    yield made
    cleanup_project(engine, made)


def _api(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _web(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _finish(response: Any) -> Job:
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    execute(job.pk, job.dispatches)
    job.refresh_from_db()
    return job


def _said_hello(message: dict) -> bool:
    return any("hello from web" in line[4] for line in message.get("lines", []))


def _logs_socket(path: str, user: Any) -> tuple[str, list[dict]]:
    """("refused" | "open", messages up to web's first line) for the stack's logs websocket as `user`."""
    comm = communicator(path, user)

    async def scenario() -> tuple[str, list[dict]]:
        await connect(comm)
        first = await comm.receive_output(10)
        if first["type"] == "websocket.close":
            return ("refused" if first.get("code") == 4403 else f"closed {first.get('code')}"), []
        got = [json.loads(first["text"])]
        if not _said_hello(got[0]):
            got += await receive_json_until(comm, _said_hello)
        await comm.disconnect()
        return "open", got

    return run(scenario)


def _deploy(endpoint: Any, user: Any, name: str, text: str = QUIET) -> tuple[Job, Stack | None]:
    job = _finish(_api(user).post(f"/api/endpoints/{endpoint.pk}/stacks/", {"name": name, "compose": text},
                                  format="json"))
    return job, Stack.objects.filter(endpoint=endpoint, name=name).first()


def test_a_standard_users_stack_is_hidden_from_another_team(endpoint, crew, name) -> None:  # type: ignore[no-untyped-def]
    alice, bob = crew["people"]["alice"], crew["people"]["bob"]
    job, stack = _deploy(endpoint, alice, name)
    assert job.state == Job.SUCCEEDED, job.error
    control = ResourceControl.objects.get(endpoint=endpoint, kind="stack", resource_id=name)
    assert control.ownership == OWNER_USER and control.owner_user == alice
    page, api = f"/endpoints/{endpoint.pk}/stacks/", f"/api/endpoints/{endpoint.pk}/stacks/"
    logs = f"/ws/endpoints/{endpoint.pk}/stacks/{stack.pk}/logs/"

    assert name in _web(alice).get(page).content.decode()
    assert _web(alice).get(stack.get_absolute_url()).status_code == 200
    assert name in {s["name"] for s in _api(alice).get(api).json()}
    state, messages = _logs_socket(logs, alice)
    assert state == "open" and messages[0] == {"containers": ["web_1"]}
    # what the stack made belongs to its deployer too: her containers list shows them, bob's does not
    containers = f"/api/endpoints/{endpoint.pk}/containers/"
    assert f"{name}_web_1" in {c["name"] for c in _api(alice).get(containers).json()}
    assert f"{name}_web_1" not in {c["name"] for c in _api(bob).get(containers).json()}

    denied_before = Activity.objects.filter(action="access.denied").count()
    other, other_api = _web(bob), _api(bob)
    assert name not in other.get(page).content.decode()
    assert other.get(stack.get_absolute_url()).status_code == 403
    assert other.get(f"{stack.get_absolute_url()}services/").status_code == 403
    assert other.get(f"{stack.get_absolute_url()}edit/").status_code == 403
    assert other.post(f"{stack.get_absolute_url()}stop/").status_code == 403
    assert name not in {s["name"] for s in other_api.get(api).json()}
    assert other_api.get(f"{api}{stack.pk}/").status_code == 403
    assert other_api.put(f"{api}{stack.pk}/", {"compose": QUIET}, format="json").status_code == 403
    assert other_api.delete(f"{api}{stack.pk}/").status_code == 403
    assert other_api.post(f"{api}{stack.pk}/stop/").status_code == 403
    assert _logs_socket(logs, bob)[0] == "refused"
    # the refused changes (stop on the page; update, remove, stop in the API) are in the activity log
    assert Activity.objects.filter(action="access.denied", outcome=Activity.DENIED).count() == denied_before + 4
    assert Stack.objects.filter(pk=stack.pk).exists()


def test_operators_start_and_stop_read_only_users_look(endpoint, crew, name) -> None:  # type: ignore[no-untyped-def]
    people = crew["people"]
    job, stack = _deploy(endpoint, people["alice"], name)
    assert job.state == Job.SUCCEEDED
    url = stack.get_absolute_url()
    assert _web(people["olga"]).get(url).status_code == 403  # alice's own until she (or an admin) shares it

    moved = _web(people["admin"]).post(reverse("resource-ownership", kwargs={"eid": endpoint.pk}), {
        "kind": "stack", "resource_id": name, "name": name, "ownership": OWNER_TEAM,
        "owner_team": crew["team_a"].pk, "next": url})
    assert moved.status_code == 302
    assert ResourceControl.objects.get(endpoint=endpoint, kind="stack", resource_id=name).ownership == OWNER_TEAM

    operator = _web(people["olga"])
    shown = operator.get(url).content.decode()
    assert "Stop</button>" in shown and "Edit &amp; redeploy" not in shown and 'data-open-dialog="remove-dialog"' not in shown
    assert run_job(operator.post(f"{url}stop/")).state == Job.SUCCEEDED
    assert run_job(operator.post(f"{url}start/")).state == Job.SUCCEEDED
    assert operator.post(f"{url}remove/").status_code == 403
    assert operator.get(f"{url}edit/").status_code == 403
    assert operator.post(f"{url}edit/", {"name": name, "compose": QUIET}).status_code == 403
    api = _api(people["olga"])
    assert api.put(f"/api/endpoints/{endpoint.pk}/stacks/{stack.pk}/", {"compose": QUIET}, format="json").status_code == 403
    assert api.delete(f"/api/endpoints/{endpoint.pk}/stacks/{stack.pk}/").status_code == 403
    assert Stack.objects.filter(pk=stack.pk).exists()

    reader = _web(people["rita"])
    assert name in reader.get(f"/endpoints/{endpoint.pk}/stacks/").content.decode()
    shown = reader.get(url).content.decode()
    assert "Stop</button>" not in shown and "Start</button>" not in shown
    assert reader.post(f"{url}stop/").status_code == 403
    assert _api(people["rita"]).post(f"/api/endpoints/{endpoint.pk}/stacks/{stack.pk}/stop/").status_code == 403
    state, messages = _logs_socket(f"/ws/endpoints/{endpoint.pk}/stacks/{stack.pk}/logs/", people["rita"])
    assert state == "open"
    assert Activity.objects.filter(action="access.denied", username=people["rita"].username).count() == 2


def test_limited_projects_are_for_administrators(endpoint, crew, engine, name) -> None:  # type: ignore[no-untyped-def]
    engine.docker("run", "-d", "--name", f"{name}_web_1", "--label", f"com.docker.compose.project={name}",
                  "--label", "com.docker.compose.service=web", "busybox", "sleep", "300")
    page, api = f"/endpoints/{endpoint.pk}/stacks/", f"/api/endpoints/{endpoint.pk}/stacks/"
    assert name in _web(crew["people"]["admin"]).get(page).content.decode()
    assert name in {s["name"] for s in _api(crew["people"]["admin"]).get(api).json()}
    alice = crew["people"]["alice"]
    assert name not in _web(alice).get(page).content.decode()
    assert name not in {s["name"] for s in _api(alice).get(api).json()}
    assert _web(alice).get(f"{page}adopt/{name}/").status_code == 403


def test_a_non_administrators_privileged_stack_is_refused_and_audited(endpoint, crew, engine, name) -> None:  # type: ignore[no-untyped-def]
    text = QUIET + "    privileged: true\n"
    job, _ = _deploy(endpoint, crew["people"]["alice"], name, text)
    assert job.state == Job.FAILED
    entry = Activity.objects.get(action="stack.deploy", outcome=Activity.DENIED)
    assert entry.username == crew["people"]["alice"].username and "privileged mode" in entry.message
    assert not engine.docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={name}").stdout.strip()
