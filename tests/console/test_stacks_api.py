"""The stacks REST API (list, create, retrieve, update = redeploy, start, stop, delete, validate) and its
OpenAPI schema; the combined logs websocket; app templates (a missing image said plainly, a template
deployed)."""

from __future__ import annotations

import json

import pytest

from console.jobs.framework import execute
from console.jobs.models import Job
from console.stacks import catalog
from console.stacks.models import Stack
from tests.compat.test_networks import free_port, http_get
from tests.console.stacks_support import cleanup_project, project_name
from tests.console.test_stacks_pages import run_job
from tests.console.websockets import close_code, communicator, connect, receive_json_until, run

pytestmark = pytest.mark.django_db(transaction=True)

CHATTY = """
services:
  one:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; i=0; while true; do echo one says $$i; i=$$((i+1)); sleep 0.2; done & wait"]
    environment:
      GREETING: ${GREETING:-hi}
  two:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do echo two says $$GREETING; sleep 0.2; done & wait"]
    env_file: stack.env
"""


@pytest.fixture
def name(engine):  # type: ignore[no-untyped-def]
    made = project_name()
    yield made
    cleanup_project(engine, made)


def api(endpoint) -> str:  # type: ignore[no-untyped-def]
    return f"/api/endpoints/{endpoint.pk}/stacks/"


def finish(response) -> Job:  # type: ignore[no-untyped-def]
    assert response.status_code == 202, response.content
    assert response["Location"] == f"/api/jobs/{response.json()['id']}/"
    job = Job.objects.get(pk=response.json()["id"])
    execute(job.pk, job.dispatches)
    job.refresh_from_db()
    return job


def test_the_api_end_to_end(admin_client, endpoint, engine, name) -> None:  # type: ignore[no-untyped-def]
    body = {"name": name, "compose": CHATTY, "variables": {"GREETING": "hello"}, "env_file": "EXTRA=1\n"}
    checked = admin_client.post(api(endpoint) + "validate/", body, content_type="application/json").json()
    assert checked == {"valid": True, "problems": [], "warnings": [], "services": ["one", "two"]}
    job = finish(admin_client.post(api(endpoint), body, content_type="application/json"))
    assert job.state == Job.SUCCEEDED, job.error
    stack = Stack.objects.get(name=name)
    assert "GREETING=hello" in engine.inspect(f"{name}_one_1")["Config"]["Env"]
    assert {"GREETING=hello", "EXTRA=1"} <= set(engine.inspect(f"{name}_two_1")["Config"]["Env"])
    listed = {s["name"]: s for s in admin_client.get(api(endpoint)).json()}
    assert listed[name]["id"] == stack.pk and listed[name]["state"] == "running" and listed[name]["origin"] == "console"
    detail = admin_client.get(f"{api(endpoint)}{stack.pk}/").json()
    assert detail["services"] == ["one", "two"] and len(detail["service_containers"]) == 2

    duplicate = admin_client.post(api(endpoint), body, content_type="application/json")
    assert duplicate.status_code == 400 and "already exists" in json.dumps(duplicate.json())

    one = engine.inspect(f"{name}_one_1")["Id"]
    job = finish(admin_client.put(f"{api(endpoint)}{stack.pk}/", {"variables": {"GREETING": "hello", "X": "2"},
                                                                   "env_file": "EXTRA=2\n"}, content_type="application/json"))
    assert job.state == Job.SUCCEEDED and "1 to recreate, 1 up to date" in job.log  # only two reads stack.env
    assert engine.inspect(f"{name}_one_1")["Id"] == one

    assert finish(admin_client.post(f"{api(endpoint)}{stack.pk}/stop/")).state == Job.SUCCEEDED
    assert admin_client.get(f"{api(endpoint)}{stack.pk}/").json()["state"] == "stopped"
    assert finish(admin_client.post(f"{api(endpoint)}{stack.pk}/start/")).state == Job.SUCCEEDED
    assert admin_client.post(f"{api(endpoint)}{stack.pk}/explode/").status_code == 400
    assert finish(admin_client.delete(f"{api(endpoint)}{stack.pk}/?volumes=true")).state == Job.SUCCEEDED
    assert not Stack.objects.filter(pk=stack.pk).exists()
    assert engine.docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={name}").stdout.strip() == ""


def test_the_schema_lists_the_stacks_api(admin_client) -> None:  # type: ignore[no-untyped-def]
    schema = admin_client.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/endpoints/{eid}/stacks/"])
    assert {"get", "put", "delete"} <= set(paths["/api/endpoints/{eid}/stacks/{sid}/"])
    assert "post" in paths["/api/endpoints/{eid}/stacks/validate/"]
    assert "post" in paths["/api/endpoints/{eid}/stacks/{sid}/{action}/"]


def test_the_api_refuses_non_administrators(client, endpoint, django_user_model) -> None:  # type: ignore[no-untyped-def]
    assert client.get(f"/api/endpoints/{endpoint.pk}/stacks/").status_code == 401
    client.force_login(django_user_model.objects.create_user("plain", password="x-plain-pass-1"))
    assert client.get(f"/api/endpoints/{endpoint.pk}/stacks/").status_code == 403


def test_combined_logs_prefix_each_container(admin_client, admin_user, endpoint, name) -> None:  # type: ignore[no-untyped-def]
    job = run_job(admin_client.post(f"/endpoints/{endpoint.pk}/stacks/new/", {"name": name, "compose": CHATTY}))
    assert job.state == Job.SUCCEEDED, job.error
    stack = Stack.objects.get(name=name)
    comm = communicator(f"/ws/endpoints/{endpoint.pk}/stacks/{stack.pk}/logs/?tail=5", admin_user)
    seen: dict[str, list[str]] = {}

    async def scenario() -> list[dict]:
        await connect(comm)
        got = await receive_json_until(comm, lambda m: "containers" in m)

        def take(m: dict) -> None:
            for who, service, stream, ts, text in m.get("lines", []):
                assert ts.startswith("20") and stream == 1
                seen.setdefault(who, []).append(text)

        await receive_json_until(comm, lambda m: len(seen.get("one_1", [])) >= 3 and len(seen.get("two_1", [])) >= 3,
                                 on_message=take)
        await comm.disconnect()
        return got

    first = run(scenario)
    assert first[0] == {"containers": ["one_1", "two_1"]}
    assert all(t.startswith("one says") for t in seen["one_1"]) and all(t.startswith("two says") for t in seen["two_1"])

    anonymous = communicator(f"/ws/endpoints/{endpoint.pk}/stacks/{stack.pk}/logs/")
    other = communicator(f"/ws/endpoints/{endpoint.pk}/stacks/999999/logs/", admin_user)

    async def refused() -> int | None:
        await connect(anonymous)
        return await close_code(anonymous)

    assert run(refused) == 4403

    async def missing() -> int | None:
        await connect(other)
        return await close_code(other)

    assert run(missing) == 4404


def test_templates_say_which_images_are_missing_and_deploy(admin_client, endpoint, engine) -> None:  # type: ignore[no-untyped-def]
    page = admin_client.get(f"/endpoints/{endpoint.pk}/stacks/templates/").content.decode()
    assert "Static web server" in page and "Key/value store (Redis)" in page
    redis = next(t for t in catalog.templates() if "redis" in t.title.lower())
    assert "Image missing" in page and "redis:7-alpine is not on this endpoint" in page
    assert "Image missing" in admin_client.get(f"/endpoints/{endpoint.pk}/stacks/templates/{redis.index}/").content.decode()
    web = next(t for t in catalog.templates() if t.title == "Static web server")
    form = admin_client.get(f"/endpoints/{endpoint.pk}/stacks/templates/{web.index}/").content.decode()
    assert "Host port" in form and "HTTP_PORT" in form
    name, port = project_name(), free_port()
    try:
        job = run_job(admin_client.post(f"/endpoints/{endpoint.pk}/stacks/templates/{web.index}/", {
            "name": name, "var_name": ["HTTP_PORT", "PAGE_TITLE"], "var_value": [str(port), "Templated"]}))
        assert job.state == Job.SUCCEEDED, job.error
        assert "Templated" in http_get(f"http://127.0.0.1:{port}/")
        missing_port = admin_client.post(f"/endpoints/{endpoint.pk}/stacks/templates/{web.index}/", {
            "name": project_name(), "var_name": ["HTTP_PORT"], "var_value": [""]})
        assert missing_port.status_code == 400 and "choose a host port" in missing_port.content.decode()
    finally:
        cleanup_project(engine, name)


def test_every_catalogue_entry_loads(admin_client) -> None:  # type: ignore[no-untyped-def]
    from console.stacks import service

    assert 4 <= len(catalog.templates()) <= 6
    for t in catalog.templates():
        defaults = {v.name: v.default for v in t.variables}
        loaded = service.load(service.Source(t.slug, t.compose, defaults))
        assert loaded.project.services, t.title
