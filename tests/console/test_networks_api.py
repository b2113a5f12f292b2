"""The networks REST API against the session's real Berth engine, and the OpenAPI schema of this issue's routes."""

from __future__ import annotations

import json
import secrets

import pytest
import yaml

from console.audit.models import Activity

pytestmark = pytest.mark.django_db


@pytest.fixture
def networks(docker):  # type: ignore[no-untyped-def]
    names: list[str] = []
    yield names
    for name in names:
        docker("network", "rm", name)


def test_create_inspect_connect_disconnect_remove(admin_client, endpoint, docker, networks, run_busybox) -> None:  # type: ignore[no-untyped-def]
    base = f"/api/endpoints/{endpoint.pk}/networks/"
    name = f"api-{secrets.token_hex(3)}"
    networks.append(name)
    subnet = f"172.{secrets.randbelow(10) + 20}.{secrets.randbelow(250)}.0/24"
    created = admin_client.post(base, {"name": name, "subnet": subnet, "labels": {"team": "a"}}, content_type="application/json")
    assert created.status_code == 201, created.content
    nid = created.json()["id"]
    listed = {n["name"]: n for n in admin_client.get(base).json()}
    assert listed[name]["subnet"] == subnet and listed[name]["containers"] == 0 and listed["bridge"]["builtin"]

    box = f"box-{secrets.token_hex(3)}"
    run_busybox("sleep", "60", name=box)
    address = subnet.replace(".0/24", ".9")
    connected = admin_client.post(f"{base}{name}/connect/", {"container": box, "aliases": ["db"], "ipv4": address},
                                  content_type="application/json")
    assert connected.status_code == 204, connected.content
    detail = admin_client.get(f"{base}{nid[:12]}/").json()
    assert detail["network"]["name"] == name and detail["network"]["labels"] == {"team": "a"}
    (attached,) = detail["containers"]
    assert attached["name"] == box and attached["ipv4"] == f"{address}/24" and "db" in attached["aliases"] and attached["mac"]

    refused = admin_client.delete(f"{base}{name}/")
    assert refused.status_code == 409 and box in refused.json()["error"]["message"]
    assert admin_client.post(f"{base}{name}/disconnect/", {"container": box}, content_type="application/json").status_code == 204
    assert admin_client.delete(f"{base}{name}/").status_code == 204
    assert docker("network", "inspect", name).returncode != 0
    assert Activity.objects.filter(action="network.remove", outcome=Activity.SUCCESS, target=name).exists()


def test_bad_input_has_the_error_shape_with_fields(admin_client, endpoint, docker) -> None:  # type: ignore[no-untyped-def]
    base = f"/api/endpoints/{endpoint.pk}/networks/"
    before = docker("network", "ls", "-q").stdout.split()
    response = admin_client.post(base, {"name": "ok-name", "subnet": "10.1.2.3/24", "gateway": "10.9.9.9"},
                                 content_type="application/json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == 400 and "subnet" in error["fields"] and "did you mean 10.1.2.0/24" in error["fields"]["subnet"][0]
    response = admin_client.post(base, {"name": "x y"}, content_type="application/json")
    assert set(response.json()["error"]["fields"]) == {"name"}
    assert admin_client.post(f"{base}bridge/connect/", {"container": "c", "ipv4": "nope"},
                             content_type="application/json").json()["error"]["fields"]["ipv4"]
    assert admin_client.get(f"{base}no-such-net/").status_code == 404
    assert docker("network", "ls", "-q").stdout.split() == before


def test_prune(admin_client, endpoint, docker, networks) -> None:  # type: ignore[no-untyped-def]
    name = f"prune-{secrets.token_hex(3)}"
    networks.append(name)
    docker("network", "create", name, check=True)
    response = admin_client.post(f"/api/endpoints/{endpoint.pk}/networks/prune/")
    assert response.status_code == 200 and name in response.json()["removed"]


def test_the_schema_covers_networks_volumes_events_and_notifications(admin_client) -> None:  # type: ignore[no-untyped-def]
    from drf_spectacular.validation import validate_schema

    schema = yaml.safe_load(admin_client.get("/api/schema/").content)
    validate_schema(schema)
    paths = schema["paths"]
    for p in ("/api/endpoints/{eid}/networks/", "/api/endpoints/{eid}/networks/{net}/connect/",
              "/api/endpoints/{eid}/volumes/", "/api/endpoints/{eid}/volumes/{name}/files/",
              "/api/endpoints/{eid}/volumes/{name}/export/", "/api/endpoints/{eid}/volumes/{name}/import/",
              "/api/endpoints/{eid}/events/", "/api/endpoints/{eid}/notifications/rules/",
              "/api/endpoints/{eid}/notifications/rules/{rid}/test/"):
        assert p in paths, p
    assert json.dumps(paths["/api/endpoints/{eid}/volumes/{name}/import/"]["post"]["requestBody"]).count("multipart/form-data")


@pytest.mark.parametrize("page", ["networks:list", "networks:create", "volumes:list", "volumes:create", "volumes:import",
                                  "events:page", "notifications:list", "notifications:create"])
def test_pages_need_an_administrator(client, django_user_model, endpoint, page) -> None:  # type: ignore[no-untyped-def]
    from django.urls import reverse

    url = reverse(page, kwargs={"eid": endpoint.pk})
    assert client.get(url)["Location"].startswith("/login/?next=")
    client.force_login(django_user_model.objects.create_user("mallory", password="x" * 16))
    assert client.get(url).status_code == 403
    assert client.post(url, {"name": "x"}).status_code in (403, 405)


@pytest.mark.parametrize("path", ["networks/", "volumes/", "notifications/rules/", "notifications/sent/", "events/"])
def test_the_api_needs_an_administrator(client, django_user_model, endpoint, path) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/endpoints/{endpoint.pk}/{path}"
    assert client.get(url).status_code == 401
    client.force_login(django_user_model.objects.create_user("mallory", password="x" * 16))
    assert client.get(url).status_code == 403
    if path in ("networks/", "volumes/", "notifications/rules/"):
        assert client.post(url, {"name": "x"}, content_type="application/json").status_code == 403
        assert Activity.objects.filter(outcome=Activity.DENIED, username="mallory").exists()
