"""The containers REST API (/api/endpoints/<eid>/containers/…) against the real Berth engine, and once against Docker."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator

import pytest
from django.test import Client
from console.accounts.tokens import issue_token

from console.audit.models import Activity
from console.containers.models import ContainerSpec
from console.endpoints.models import Endpoint
from tests.support.dockerd import Dockerd, start_dockerd
from tests.support.engine import DOCKER

pytestmark = pytest.mark.django_db

POLITE = "sh -c \"trap 'exit 0' TERM; while true; do sleep 0.2; done\""


def base(endpoint: Endpoint) -> str:
    return f"/api/endpoints/{endpoint.pk}/containers/"


def post(client: Client, url: str, body: object = None):  # type: ignore[no-untyped-def]
    return client.post(url, json.dumps(body) if body is not None else "", content_type="application/json")


def assert_error(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    """The console's one error shape; returns its body."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == status and body["error"]["message"]
    return body["error"]


def test_create_list_inspect_act_and_remove(admin_client, endpoint, docker) -> None:  # type: ignore[no-untyped-def]
    name = f"api-{secrets.token_hex(3)}"
    spec = {"image": "busybox", "name": name, "command": POLITE, "memory": "32m",
            "env": [{"name": "MODE", "value": "api"}], "labels": [{"name": "via", "value": "api"}]}
    response = post(admin_client, base(endpoint), spec)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["name"] == name and isinstance(created["warnings"], list)
    cid = created["id"]

    listed = admin_client.get(base(endpoint), {"q": name}).json()
    assert [(c["id"], c["state"], c["has_spec"], c["labels"]) for c in listed] == [(cid, "running", True, {"via": "api"})]
    assert admin_client.get(base(endpoint), {"q": name, "state": "exited"}).json() == []

    inspected = admin_client.get(f"{base(endpoint)}{name}/").json()
    assert inspected["Id"] == cid and "MODE=api" in inspected["Config"]["Env"]

    kept = admin_client.get(f"{base(endpoint)}{cid[:12]}/spec/").json()
    assert kept["name"] == name and kept["spec"]["memory"] == "32m" and kept["created_by"] == "admin"

    for action, running in (("pause", True), ("unpause", True), ("stop", False), ("start", True), ("restart", True)):
        assert post(admin_client, f"{base(endpoint)}{cid}/{action}/").status_code == 204, action
        assert docker("inspect", "-f", "{{.State.Running}}", cid).out == str(running).lower()
    assert Activity.objects.filter(action="container.restart", outcome=Activity.SUCCESS, details__id=cid).exists()

    error = assert_error(admin_client.delete(f"{base(endpoint)}{cid}/"), 409)
    assert "Stop the container before attempting removal or force remove" in error["message"]
    assert admin_client.delete(f"{base(endpoint)}{cid}/?force=true").status_code == 204
    assert docker("inspect", cid).returncode != 0
    assert Activity.objects.filter(action="container.create", target=name, outcome=Activity.SUCCESS).exists()


def test_invalid_specs_get_the_forms_errors_in_the_api_shape(admin_client, endpoint) -> None:  # type: ignore[no-untyped-def]
    error = assert_error(post(admin_client, base(endpoint), {
        "image": "busybox", "memory": "heaps", "ports": [{"container_port": "80"}, {"host_port": "1-2", "container_port": "80"},
                                                          {"container_port": "x"}],
    }), 400)
    assert error["message"] == "invalid input: memory, ports"
    assert error["fields"] == {
        "memory": ["write a size such as 512m, 1g or 268435456 (bytes)"],
        "ports": [{}, {}, {"container_port": ["write a port (80) or a range (8000-8010)"]}],
    }
    assert assert_error(post(admin_client, base(endpoint), {"image": "busybox", "memroy": "1g"}), 400)["fields"] == {
        "memroy": ["unknown field"]}
    assert "image" in assert_error(post(admin_client, base(endpoint), {}), 400)["fields"]
    assert "ports" in assert_error(post(admin_client, base(endpoint), {"image": "busybox", "ports": "80:80"}), 400)["fields"]


def test_engine_refusals_keep_their_status_and_field(admin_client, endpoint, docker) -> None:  # type: ignore[no-untyped-def]
    name = f"dup-{secrets.token_hex(3)}"
    docker("create", "--name", name, "busybox", "true", check=True)
    error = assert_error(post(admin_client, base(endpoint), {"image": "busybox", "name": name}), 409)
    assert "is already in use" in error["fields"]["name"][0]

    assert "No such container" in assert_error(admin_client.get(f"{base(endpoint)}nope-{name}/"), 404)["message"]
    assert assert_error(post(admin_client, f"{base(endpoint)}{name}/explode/"), 404)["message"].startswith("unknown action")
    assert "is not running" in assert_error(post(admin_client, f"{base(endpoint)}{name}/pause/"), 409)["message"]
    assert "no spec kept" in assert_error(admin_client.get(f"{base(endpoint)}{name}/spec/"), 404)["message"]
    assert_error(admin_client.get("/api/endpoints/999999/containers/"), 404)


def test_unreachable_engines_are_a_502(admin_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    gone = Endpoint.objects.create(name="gone", url=f"unix://{tmp_path}/none.sock")
    assert "cannot reach the engine" in assert_error(admin_client.get(base(gone)), 502)["message"]


def test_anonymous_is_401_and_non_admin_403(client, django_user_model, endpoint) -> None:  # type: ignore[no-untyped-def]
    assert_error(client.get(base(endpoint)), 401)
    assert_error(post(client, base(endpoint), {"image": "busybox"}), 401)
    client.force_login(django_user_model.objects.create_user("plain", password="x" * 20))
    assert_error(client.get(base(endpoint)), 403)
    assert_error(post(client, f"{base(endpoint)}abc/stop/"), 403)
    assert_error(client.delete(f"{base(endpoint)}abc/"), 403)
    denied = Activity.objects.filter(outcome=Activity.DENIED, username="plain")
    assert denied.count() == 2  # the refused changes (console/api/errors.py), not the refused read
    assert not Activity.objects.filter(outcome=Activity.SUCCESS).exists()


def test_token_authentication(endpoint, django_user_model) -> None:  # type: ignore[no-untyped-def]
    admin = django_user_model.objects.create_user("robot", password="x" * 20, is_staff=True)
    key = issue_token(admin).key  # hashed API tokens (console/accounts/tokens.py)
    client = Client()
    assert client.get(base(endpoint), HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    assert_error(client.get(base(endpoint), HTTP_AUTHORIZATION="Token wrong"), 401)


def test_the_schema_documents_the_containers_api(admin_client) -> None:  # type: ignore[no-untyped-def]
    schema = admin_client.get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/endpoints/{eid}/containers/"])
    assert {"get", "delete"} <= set(paths["/api/endpoints/{eid}/containers/{cid}/"])
    assert "post" in paths["/api/endpoints/{eid}/containers/{cid}/{action}/"]
    assert "get" in paths["/api/endpoints/{eid}/containers/{cid}/spec/"]
    spec = schema["components"]["schemas"]["ContainerSpec"]["properties"]
    assert {"image", "ports", "volumes", "memory", "health_command"} <= set(spec)
    assert "Error" in schema["components"]["schemas"]


@pytest.fixture(scope="module")
def dockerd() -> Iterator[Dockerd]:
    d = start_dockerd()
    if d is None:
        pytest.skip("Debian's dockerd is not available")
    yield d
    d.stop()


def test_the_containers_api_against_the_real_docker_engine(admin_client, engine, dockerd, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Same calls, real Docker: busybox goes over with `docker save | docker load` under a tag of its own."""
    tag = f"berth-console-test:{secrets.token_hex(4)}"
    engine.docker("tag", "busybox", tag, check=True)
    archive = tmp_path / "busybox.tar"
    engine.docker("save", "-o", str(archive), tag, check=True)
    real = lambda *a: subprocess.run([DOCKER, "-H", dockerd.host, *a], capture_output=True, text=True, timeout=120)  # noqa: E731
    assert real("load", "-i", str(archive)).returncode == 0
    docker_endpoint = Endpoint.objects.create(name="real-docker", url=dockerd.host)
    name = f"berth-api-{secrets.token_hex(3)}"
    try:
        response = post(admin_client, base(docker_endpoint), {"image": tag, "name": name, "command": POLITE, "network": "none",
                                                                "memory": "32m", "labels": [{"name": "berth.test", "value": "1"}]})
        assert response.status_code == 201, response.content
        cid = response.json()["id"]
        listed = admin_client.get(base(docker_endpoint), {"q": name}).json()
        assert [(c["id"], c["state"]) for c in listed] == [(cid, "running")]
        assert admin_client.get(f"{base(docker_endpoint)}{cid}/").json()["HostConfig"]["Memory"] == 32 * 1024**2
        assert post(admin_client, f"{base(docker_endpoint)}{cid}/stop/").status_code == 204
        assert admin_client.get(base(docker_endpoint), {"q": name}).json()[0]["state"] == "exited"
        assert ContainerSpec.objects.get(endpoint=docker_endpoint, container_id=cid).spec["network"] == "none"
        assert admin_client.delete(f"{base(docker_endpoint)}{cid}/?force=1").status_code == 204
        assert real("inspect", cid).returncode != 0
    finally:
        real("rm", "-f", name)
        real("rmi", tag)
        engine.docker("rmi", tag)
