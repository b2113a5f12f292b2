"""The events page and its history API against the session's real Berth engine; the filter's rules (pure)."""

from __future__ import annotations

import secrets

import pytest
from django.urls import reverse

from console.events.history import EventQuery, matches

pytestmark = pytest.mark.django_db


def ev(kind: str = "container", action: str = "start", cid: str = "abc123", **attributes: str) -> dict:
    return {"Type": kind, "Action": action, "Actor": {"ID": cid, "Attributes": {"name": "web-1", **attributes}}}


def test_the_filter_rules() -> None:
    assert matches(ev(), EventQuery())
    assert not matches(ev(kind="image"), EventQuery(type="container"))
    assert matches(ev(action="health_status: unhealthy"), EventQuery(action="health_status"))
    assert not matches(ev(action="die"), EventQuery(action="start"))
    assert matches(ev(), EventQuery(text="WEB"))
    assert matches(ev(), EventQuery(text="abc1"))
    assert matches(ev(image="nginx:1"), EventQuery(text="nginx"))
    assert not matches(ev(), EventQuery(text="db"))
    helper = ev(**{"berth.console.helper": "browse"})
    assert not matches(helper, EventQuery()) and matches(helper, EventQuery(helpers=True))
    q = EventQuery.from_params({"type": "bogus", "since": "1y", "q": " x ", "helpers": "1"})
    assert (q.type, q.since, q.text, q.helpers) == ("", "1h", "x", True)


def test_the_page_has_the_filters_and_follows_the_events_socket(admin_client, endpoint) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.get(reverse("events:page", kwargs={"eid": endpoint.pk}), {"type": "network", "q": "web"})
    body = response.content.decode()
    assert response.status_code == 200
    assert f'data-socket="/ws/endpoints/{endpoint.pk}/events/"' in body
    assert f'data-history="/api/endpoints/{endpoint.pk}/events/"' in body
    assert '<option value="network" selected>' in body and 'value="web"' in body
    assert 'aria-current="page"' in body and "Events</a>" in body


def test_the_history_has_what_happened_filtered(admin_client, endpoint, docker) -> None:  # type: ignore[no-untyped-def]
    name = f"hist-{secrets.token_hex(3)}"
    cid = docker("create", "--name", name, "busybox", "true", check=True).out
    docker("start", cid, check=True)
    api = f"/api/endpoints/{endpoint.pk}/events/"

    events = admin_client.get(api, {"q": name}).json()["events"]
    actions = [e["Action"] for e in events if e["Actor"]["ID"] == cid]
    assert actions[:2] == ["create", "start"]  # oldest first
    assert all(name in e["Actor"]["Attributes"].get("name", "") or e["Actor"]["ID"] == cid for e in events)

    only_starts = admin_client.get(api, {"q": name, "action": "start"}).json()["events"]
    assert {e["Action"] for e in only_starts} == {"start"}
    assert admin_client.get(api, {"q": name, "type": "image"}).json()["events"] == []


def test_pages_and_history_need_an_administrator(client, django_user_model, endpoint) -> None:  # type: ignore[no-untyped-def]
    page = reverse("events:page", kwargs={"eid": endpoint.pk})
    assert client.get(page)["Location"].startswith("/login/")
    assert client.get(f"/api/endpoints/{endpoint.pk}/events/").status_code == 401
    client.force_login(django_user_model.objects.create_user("eve", password="x" * 16))
    assert client.get(page).status_code == 403
    assert client.get(f"/api/endpoints/{endpoint.pk}/events/").status_code == 403
