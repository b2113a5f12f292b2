"""What a non-administrator sees: lists, search, the dashboard's counts, the REST API, the events socket —
only their own and their teams' resources; acting on someone else's is refused and recorded."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from rest_framework.test import APIClient

from console.accounts.models import OWNER_USER, ResourceControl
from console.audit.models import Activity
from console.jobs.models import Job
from tests.console.access_roles import make_people, own
from tests.console.websockets import communicator, connect, receive_json_until, run

pytestmark = pytest.mark.django_db


@pytest.fixture
def two(endpoint, run_busybox):  # type: ignore[no-untyped-def]
    """Two running containers: "ours" owned by the people's team, "theirs" by administrators (no row)."""
    people, team = make_people(endpoint)
    tag = secrets.token_hex(3)
    ours = run_busybox("sleep", "300", name=f"ours-{tag}")
    theirs = run_busybox("sleep", "300", name=f"theirs-{tag}")
    own(endpoint, team, "container", ours, f"ours-{tag}")
    return {"people": people, "ours": ours, "theirs": theirs, "tag": tag}


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_lists_and_search_show_only_what_the_user_may_see(endpoint, two) -> None:  # type: ignore[no-untyped-def]
    reader = _client(two["people"]["readonly"])
    page = reader.get(f"/endpoints/{endpoint.pk}/containers/").content.decode()
    assert f"ours-{two['tag']}" in page and f"theirs-{two['tag']}" not in page
    found = reader.get(f"/endpoints/{endpoint.pk}/containers/rows/?q=theirs").content.decode()
    assert f"theirs-{two['tag']}" not in found
    admin = _client(two["people"]["admin"]).get(f"/endpoints/{endpoint.pk}/containers/").content.decode()
    assert f"theirs-{two['tag']}" in admin
    assert reader.get(f"/endpoints/{endpoint.pk}/containers/{two['theirs'][:12]}/").status_code == 403


def test_the_dashboard_counts_only_what_the_user_may_see(endpoint, two) -> None:  # type: ignore[no-untyped-def]
    board = _client(two["people"]["readonly"]).get(f"/endpoints/{endpoint.pk}/").context["board"]
    assert board.status.containers == 1 and board.status.containers_running == 1
    assert board.status.volumes == 0 and board.status.networks == 0
    everything = _client(two["people"]["admin"]).get(f"/endpoints/{endpoint.pk}/").context["board"]
    assert everything.status.containers >= 2


def test_the_api_lists_and_acts_only_on_what_the_user_may_see(endpoint, two) -> None:  # type: ignore[no-untyped-def]
    api = APIClient()
    api.force_authenticate(two["people"]["operator"])
    listed = {c["id"] for c in api.get(f"/api/endpoints/{endpoint.pk}/containers/").json()}
    assert two["ours"] in listed and two["theirs"] not in listed
    assert api.get(f"/api/endpoints/{endpoint.pk}/containers/{two['theirs'][:12]}/").status_code == 403
    assert api.post(f"/api/endpoints/{endpoint.pk}/containers/{two['theirs'][:12]}/stop/").status_code == 403
    assert api.delete(f"/api/endpoints/{endpoint.pk}/containers/{two['ours'][:12]}/").status_code == 403  # operator
    assert Activity.objects.filter(action="access.denied", outcome=Activity.DENIED).count() == 2


def test_a_bulk_action_skips_and_records_what_is_not_the_users(endpoint, two) -> None:  # type: ignore[no-untyped-def]
    standard = two["people"]["standard"]
    ResourceControl.objects.create(endpoint=endpoint, kind="container", resource_id="f" * 64, ownership=OWNER_USER,
                                   owner_user=standard)
    response = _client(standard).post(f"/endpoints/{endpoint.pk}/containers/actions/",
                                      {"action": "pause", "ids": [two["ours"], two["theirs"]]}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "not allowed" in response.content.decode()
    job = Job.objects.latest("created_at")  # the allowed part runs as a background job (console/containers/jobs.py)
    assert job.params["ids"] == [two["ours"]] and job.user == standard
    assert Activity.objects.filter(action="access.denied", message__contains=two["theirs"][:12]).exists()


def test_the_events_socket_forwards_only_events_about_visible_resources(endpoint, two, engine) -> None:  # type: ignore[no-untyped-def]
    comm = communicator(f"/ws/endpoints/{endpoint.pk}/events/", two["people"]["readonly"])

    async def scenario() -> list[dict]:
        await connect(comm)
        await asyncio.sleep(0.5)  # the engine stream opens in a thread; earlier events are not replayed
        await sync_to_async(engine.docker)("pause", two["theirs"])
        await sync_to_async(engine.docker)("pause", two["ours"])
        got = await receive_json_until(comm, lambda m: any(e.get("id") == two["ours"] for e in m.get("events", [])))
        await comm.disconnect()
        return got

    try:
        messages = run(scenario)
    finally:
        engine.docker("unpause", two["theirs"])
        engine.docker("unpause", two["ours"])
    ids = {e.get("id") or (e.get("Actor") or {}).get("ID") for m in messages for e in m.get("events", [])}
    assert two["ours"] in ids and two["theirs"] not in ids
