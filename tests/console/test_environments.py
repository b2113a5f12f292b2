"""Environments: the model, the grouped endpoints list, create / edit / remove, moving endpoints, the overview
page and its cards, the home page with several engines, plain TCP refused, "Add a Berth engine" step one."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from console.audit.models import Activity
from console.endpoints.environments import grouped
from console.endpoints.models import LOCAL_ENDPOINT, Endpoint, Environment
from console.endpoints.overview import CARD_TIMEOUT

pytestmark = pytest.mark.django_db


@pytest.fixture
def silent_engine() -> Iterator[str]:
    """A tcp:// URL on loopback where something accepts connections but never answers (a hung engine)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield f"tcp://127.0.0.1:{s.getsockname()[1]}"


def test_it_groups_endpoints_by_environment_and_keeps_them_when_one_is_removed() -> None:
    prod = Environment.objects.create(name="production", description="what customers use")
    lab = Environment.objects.create(name="lab")
    Environment.objects.create(name="empty")
    a = Endpoint.objects.create(name="a", url="tcp://127.0.0.1:1", environment=prod)
    b = Endpoint.objects.create(name="b", url="tcp://127.0.0.1:2", environment=lab)
    groups = grouped()
    assert [(g.environment.name if g.environment else None, [e.name for e in g.endpoints]) for g in groups] == [
        ("empty", []), ("lab", ["b"]), ("production", ["a"]), (None, [LOCAL_ENDPOINT])]
    lab.delete()
    b.refresh_from_db()
    assert b.environment is None and Endpoint.objects.filter(pk=a.pk, environment=prod).exists()


def test_the_list_shows_each_environment_with_its_endpoints(admin_client) -> None:  # type: ignore[no-untyped-def]
    prod = Environment.objects.create(name="production", description="what customers use")
    staging = Environment.objects.create(name="staging")
    remote = Endpoint.objects.create(name="remote", url="tcp://127.0.0.1:1", environment=prod)
    body = admin_client.get("/endpoints/").content.decode()
    prod_at, staging_at = body.index(f'id="env-{prod.pk}-title">production'), body.index(f'id="env-{staging.pk}-title">staging')
    loose_at = body.index('id="env-none-title">No environment')
    assert prod_at < staging_at < loose_at
    assert body.index(f'id="endpoint-row-{remote.pk}"') < staging_at  # listed under production
    assert "what customers use" in body and "No endpoints in staging yet." in body
    local = Endpoint.objects.get(name=LOCAL_ENDPOINT)
    assert body.index(f'id="endpoint-row-{local.pk}"') > loose_at
    for url in ("/endpoints/environments/add/", "/endpoints/add/berth/", "/overview/"):
        assert f'href="{url}"' in body


def test_a_row_refreshes_itself_and_says_why_an_engine_is_down(admin_client) -> None:  # type: ignore[no-untyped-def]
    Environment.objects.create(name="lab")
    refusing = Endpoint.objects.create(name="refusing", url="tcp://127.0.0.1:1")
    row = admin_client.get(f"/endpoints/{refusing.pk}/row/").content.decode()
    assert 'data-health="unreachable"' in row and "Unreachable" in row and "Connection refused" in row
    assert f'data-refresh="/endpoints/{refusing.pk}/row/"' in row  # live: the page reloads it
    assert f'action="/endpoints/{refusing.pk}/move/"' in row and ">lab</option>" in row


def test_environments_are_created_edited_and_removed_with_an_audit_trail(admin_client) -> None:  # type: ignore[no-untyped-def]
    assert admin_client.get("/endpoints/environments/add/").status_code == 200
    response = admin_client.post("/endpoints/environments/add/", {"name": "production", "description": "live"})
    assert response.status_code == 302 and response["Location"] == "/endpoints/"
    env = Environment.objects.get(name="production")
    duplicate = admin_client.post("/endpoints/environments/add/", {"name": "Production", "description": ""})
    assert duplicate.status_code == 400
    assert "exists already" in " ".join(duplicate.context["form"].errors["name"])
    blank = admin_client.post("/endpoints/environments/add/", {"name": "  ", "description": ""})
    assert blank.status_code == 400 and "name" in blank.context["form"].errors
    edited = admin_client.post(f"/endpoints/environments/{env.pk}/edit/", {"name": "prod", "description": "live"})
    assert edited.status_code == 302
    env.refresh_from_db()
    assert env.name == "prod"
    member = Endpoint.objects.create(name="m", url="tcp://127.0.0.1:1", environment=env)
    confirm = admin_client.get(f"/endpoints/environments/{env.pk}/delete/").content.decode()
    assert "<strong>m</strong>" in confirm and "No engine is touched" in confirm
    assert admin_client.post(f"/endpoints/environments/{env.pk}/delete/").status_code == 302
    member.refresh_from_db()
    assert member.environment is None and not Environment.objects.exists()
    trail = list(Activity.objects.order_by("pk").values_list("action", "outcome", "target"))
    assert trail == [("environment.create", "success", "production"), ("environment.create", "failure", "Production"),
                     ("environment.create", "failure", "  "), ("environment.update", "success", "prod"),
                     ("environment.delete", "success", "prod")]
    assert Activity.objects.order_by("pk").last().details == {"endpoints": ["m"]}


def test_an_endpoint_moves_between_environments(admin_client) -> None:  # type: ignore[no-untyped-def]
    prod = Environment.objects.create(name="production")
    lab = Environment.objects.create(name="lab")
    e = Endpoint.objects.create(name="e", url="tcp://127.0.0.1:1", environment=prod)
    response = admin_client.post(f"/endpoints/{e.pk}/move/", {"environment": str(lab.pk)}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response["HX-Refresh"] == "true"
    e.refresh_from_db()
    assert e.environment == lab
    assert admin_client.post(f"/endpoints/{e.pk}/move/", {"environment": ""}).status_code == 302  # no JS: a redirect
    e.refresh_from_db()
    assert e.environment is None
    bad = admin_client.post(f"/endpoints/{e.pk}/move/", {"environment": "999999"})
    assert bad.status_code == 302
    moves = list(Activity.objects.filter(action="endpoint.move").order_by("pk").values_list("outcome", "details"))
    assert moves == [("success", {"from": "production", "to": "lab"}), ("success", {"from": "lab", "to": ""}),
                     ("failure", {})]


def test_the_endpoint_form_sets_the_environment(admin_client) -> None:  # type: ignore[no-untyped-def]
    lab = Environment.objects.create(name="lab")
    form = admin_client.get("/endpoints/add/").content.decode()
    assert 'name="environment"' in form and "No environment" in form
    data = {"name": "remote", "url": "tcp://127.0.0.1:2376", "environment": str(lab.pk), "tls_ca": "", "tls_cert": "", "tls_key": ""}
    assert admin_client.post("/endpoints/add/", data).status_code == 302
    assert Endpoint.objects.get(name="remote").environment == lab
    entry = Activity.objects.get(action="endpoint.create")
    assert entry.outcome == "success"


@pytest.mark.parametrize("url", ["tcp://10.0.0.5:2376", "tcp://engine.example:2376", "tcp://[2001:db8::1]:2376"])
def test_plain_tcp_to_another_host_is_refused_with_a_clear_message(admin_client, url) -> None:  # type: ignore[no-untyped-def]
    data = {"name": "remote", "url": url, "tls_ca": "", "tls_cert": "", "tls_key": ""}
    response = admin_client.post("/endpoints/add/", data)
    assert response.status_code == 400
    message = " ".join(response.context["form"].errors["url"])
    assert "Plain TCP is only allowed to this host" in message and "TLS" in message
    assert not Endpoint.objects.filter(name="remote").exists()


@pytest.mark.parametrize("url", ["tcp://127.0.0.1:2375", "tcp://localhost:2375", "tcp://[::1]:2375"])
def test_plain_tcp_on_loopback_is_allowed(admin_client, url) -> None:  # type: ignore[no-untyped-def]
    data = {"name": "loop", "url": url, "tls_ca": "", "tls_cert": "", "tls_key": ""}
    assert admin_client.post("/endpoints/add/", data).status_code == 302


def test_the_api_refuses_plain_tcp_to_another_host_too(admin_user) -> None:  # type: ignore[no-untyped-def]
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(admin_user)
    response = api.post("/api/endpoints/", {"name": "r", "url": "tcp://10.0.0.5:2376"}, format="json")
    assert response.status_code == 400
    assert "Plain TCP" in response.json()["error"]["fields"]["url"][0]


def test_a_fresh_session_with_several_engines_lands_on_the_overview(client, admin_user) -> None:  # type: ignore[no-untyped-def]
    Endpoint.objects.create(name="other", url="tcp://127.0.0.1:1")
    client.force_login(admin_user)
    assert client.get("/")["Location"] == "/overview/"
    other = Endpoint.objects.get(name="other")
    client.get(f"/endpoints/switch/?eid={other.pk}")
    assert client.get("/")["Location"] == f"/endpoints/{other.pk}/"  # a chosen endpoint wins, as before


def test_the_overview_page_asks_no_engine_and_cards_load_themselves(admin_client, silent_engine) -> None:  # type: ignore[no-untyped-def]
    lab = Environment.objects.create(name="lab", description="the test bench")
    silent = Endpoint.objects.create(name="silent", url=silent_engine, environment=lab)
    started = time.monotonic()
    response = admin_client.get("/overview/")
    assert time.monotonic() - started < 1.0  # the silent engine does not hold the page up
    body = response.content.decode()
    assert response.status_code == 200
    assert ">lab<" in body and "the test bench" in body and ">No environment<" in body
    for endpoint in Endpoint.objects.all():
        assert f'hx-get="/overview/{endpoint.pk}/card/"' in body
    assert body.count('hx-trigger="load"') == Endpoint.objects.count()

    started = time.monotonic()
    card = admin_client.get(f"/overview/{silent.pk}/card/").content.decode()
    elapsed = time.monotonic() - started
    assert elapsed < CARD_TIMEOUT + 2.0, elapsed  # one short timeout, not one per engine call
    assert 'data-health="unreachable"' in card and "Unreachable" in card
    assert f"no answer within {CARD_TIMEOUT:g} s" in card
    assert f'data-refresh="/overview/{silent.pk}/card/"' in card  # and the page keeps trying


def test_a_refused_connection_card_is_quick(admin_client) -> None:  # type: ignore[no-untyped-def]
    refusing = Endpoint.objects.create(name="refusing", url="tcp://127.0.0.1:1")
    started = time.monotonic()
    card = admin_client.get(f"/overview/{refusing.pk}/card/").content.decode()
    assert time.monotonic() - started < 1.0
    assert "Connection refused" in card and 'data-health="unreachable"' in card


def test_berth_engine_step_one_issues_a_client_certificate(admin_client) -> None:  # type: ignore[no-untyped-def]
    lab = Environment.objects.create(name="lab")
    page = admin_client.get(f"/endpoints/add/berth/?environment={lab.pk}")
    assert page.status_code == 200 and f'<option value="{lab.pk}" selected>' in page.content.decode()
    bad = admin_client.post("/endpoints/add/berth/", {"name": "bad name", "host": "http://x/", "port": "0"})
    assert bad.status_code == 400 and set(bad.context["form"].errors) == {"name", "host", "port"}
    response = admin_client.post("/endpoints/add/berth/", {"name": "edge1", "host": "10.9.8.7", "port": "2376",
                                                           "environment": str(lab.pk)})
    endpoint = Endpoint.objects.get(name="edge1")
    assert response["Location"] == f"/endpoints/{endpoint.pk}/setup/"
    assert endpoint.url == "tcp://10.9.8.7:2376" and endpoint.environment == lab and endpoint.uses_tls
    assert "BEGIN CERTIFICATE" in endpoint.tls_ca and "PRIVATE KEY" in endpoint.tls_key
    setup = admin_client.get(response["Location"]).content.decode()
    assert "python manage.py issue_engine_cert edge1 --host 10.9.8.7" in setup
    assert ("python -m engine --host tcp://10.9.8.7:2376 --tlsverify --tlscacert /etc/berth/tls/ca.pem "
            "--tlscert /etc/berth/tls/server-cert.pem --tlskey /etc/berth/tls/server-key.pem") in setup
    assert "PRIVATE KEY" not in setup and "for the address <strong>10.9.8.7</strong>" in setup
    again = admin_client.post("/endpoints/add/berth/", {"name": "edge1", "host": "10.9.8.7", "port": "2376"})
    assert again.status_code == 400 and "exists already" in " ".join(again.context["form"].errors["name"])
    created = Activity.objects.get(action="endpoint.create", outcome="success")
    assert created.details["tls"] is True and "PRIVATE KEY" not in str(created.details)


def test_environment_pages_need_an_administrator(client, django_user_model) -> None:  # type: ignore[no-untyped-def]
    for path in ("/overview/", "/endpoints/environments/add/", "/endpoints/add/berth/"):
        assert client.get(path).status_code == 302  # to the login page
    bob = django_user_model.objects.create_user("bob", password="x" * 16)
    client.force_login(bob)
    local = Endpoint.objects.get(name=LOCAL_ENDPOINT)
    for path in ("/overview/", f"/overview/{local.pk}/card/", "/endpoints/environments/add/", "/endpoints/add/berth/"):
        assert client.get(path).status_code == 403


def test_the_engine_names_itself() -> None:
    from console.endpoints.health import engine_platform

    assert engine_platform({"Platform": {"Name": "Berth Engine"}, "Components": [{"Name": "Engine"}]}) == "Berth Engine"
    assert engine_platform({"Platform": {"Name": ""}, "Components": [{"Name": "Engine", "Version": "20.10.24"}]}) == "Docker Engine"
    assert engine_platform({"Components": [{"Name": "Podman Engine"}]}) == "Podman Engine"
    assert engine_platform({}) == ""


def test_x_berth_endpoint_resolves_names_within_the_stacks_environment() -> None:
    from console.endpoints.placement import PlacementError, resolve_placement, spanning_networks, wish_of

    prod = Environment.objects.create(name="production")
    lab = Environment.objects.create(name="lab")
    a = Endpoint.objects.create(name="edge-a", url="tcp://127.0.0.1:1", environment=prod)
    Endpoint.objects.create(name="edge-b", url="tcp://127.0.0.1:2", environment=prod)
    Endpoint.objects.create(name="lab-1", url="tcp://127.0.0.1:3", environment=lab)
    placed = resolve_placement({"web": "edge-a", "db": "Production/edge-b", "cache": ""}, home=a)
    assert {s: e.name for s, e in placed.items()} == {"web": "edge-a", "db": "edge-b", "cache": "edge-a"}
    with pytest.raises(PlacementError) as refused:
        resolve_placement({"web": "nope", "db": "lab/edge-b", "x": "lab-1", "ok": "edge-b"}, home=a)
    messages = {p.service: p.message for p in refused.value.problems}
    assert set(messages) == {"web", "db", "x"}
    assert "no endpoint named 'nope'" in messages["web"] and "edge-a" in messages["web"]
    assert "is in environment production, not in environment lab" in messages["db"]
    assert "a stack stays in one environment" in messages["x"]
    loose = Endpoint.objects.get(name=LOCAL_ENDPOINT)  # a home in no environment may place anywhere
    assert resolve_placement({"x": "lab-1"}, home=loose)["x"].name == "lab-1"
    assert wish_of(None, {"berth.endpoint": "edge-b"}) == "edge-b" and wish_of("edge-a", {}) == "edge-a"
    with pytest.raises(ValueError):
        wish_of("edge-a", {"berth.endpoint": "edge-b"})
    spans = spanning_networks({"web": ["front", "back"], "db": ["back"], "cache": ["back"]}, placed)
    assert {k: [e.name for e in v] for k, v in spans.items()} == {"back": ["edge-a", "edge-b"]}
