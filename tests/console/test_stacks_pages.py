"""Stacks pages against the session's real Berth engine: the course's compose file written in the editor,
deployed as a job (db healthy before app starts), redeployed with one service's env changed (only that
service recreated), stopped, started and removed (network gone, named volume kept); bad files refused with
line-numbered problems and nothing changed on the engine."""

from __future__ import annotations

import pytest

from console.audit.models import Activity
from console.jobs.framework import execute
from console.jobs.models import Job
from console.stacks.models import Stack
from tests.compat.test_networks import free_range, http_get
from tests.console.stacks_support import build_course_images, cleanup_project, course_text, project_name

pytestmark = pytest.mark.django_db(transaction=True)


def run_job(response) -> Job:  # type: ignore[no-untyped-def]
    assert response.status_code == 302, response.content.decode()[:3000]
    assert response["Location"].startswith("/jobs/"), response["Location"]
    job = Job.objects.get(pk=int(response["Location"].strip("/").split("/")[1]))
    execute(job.pk, job.dispatches)
    job.refresh_from_db()
    return job


@pytest.fixture
def images(engine, tmp_path_factory):  # type: ignore[no-untyped-def]
    tags = build_course_images(engine, tmp_path_factory.mktemp("course"), project_name())
    yield tags
    engine.docker("rmi", "-f", *tags.values())


@pytest.fixture
def name(engine):  # type: ignore[no-untyped-def]
    made = project_name()
    yield made
    cleanup_project(engine, made)


def engine_state(engine) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    return (engine.docker("ps", "-aq").stdout, engine.docker("network", "ls", "-q").stdout,
            engine.docker("volume", "ls", "-q").stdout)


BAD_FILES = {
    "bad YAML": ("services:\n  app:\n    image: busybox\n   ports: [1\n", "line 4", "not valid YAML"),
    "schema": ("services:\n  app:\n    image: busybox\n    restrat: always\n", "line 4", "'restrat' is not allowed"),
    "unknown depends_on": ("services:\n  app:\n    image: busybox\n    depends_on:\n      - dbx\n", "line 4",
                           "service 'dbx' is not defined"),
    "cycle": ("services:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    depends_on: [a]\n",
              "line 4", "dependency cycle: a → b → a"),
    "missing variable": ("services:\n  app:\n    image: busybox\n    ports:\n      - \"${PORT:?set PORT}:80\"\n",
                         "line 5", "required variable PORT is missing a value: set PORT"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_it_refuses_bad_files_with_line_numbers_and_changes_nothing(case, admin_client, endpoint, engine, name) -> None:  # type: ignore[no-untyped-def]
    text, line, words = BAD_FILES[case]
    before = engine_state(engine)
    checked = admin_client.post(f"/api/endpoints/{endpoint.pk}/stacks/validate/", {"name": name, "compose": text},
                                content_type="application/json").json()
    assert checked["valid"] is False
    assert any(p["text"].startswith(line) and words in p["text"] for p in checked["problems"]), checked
    page = admin_client.post(f"/endpoints/{endpoint.pk}/stacks/new/", {"name": name, "compose": text})
    body = page.content.decode()
    assert page.status_code == 400 and words.replace("'", "&#x27;").replace(">", "&gt;") in body, body[-3000:]
    api = admin_client.post(f"/api/endpoints/{endpoint.pk}/stacks/", {"name": name, "compose": text},
                            content_type="application/json")
    assert api.status_code == 400 and any(words in p for p in api.json()["error"]["fields"]["compose"])
    assert not Stack.objects.exists() and not Job.objects.exists()
    assert engine_state(engine) == before
    assert Activity.objects.filter(action="stack.create", outcome="failure").count() == 2


def test_the_course_stack_from_the_editor(admin_client, endpoint, engine, images, name) -> None:  # type: ignore[no-untyped-def]
    port = free_range(11)
    text = course_text(images)
    response = admin_client.post(f"/endpoints/{endpoint.pk}/stacks/new/", {
        "name": name, "compose": text, "var_name": ["APP_PORTS"], "var_value": [f"{port}-{port + 10}"]})
    job = run_job(response)
    assert job.state == Job.SUCCEEDED, (job.error, job.log)
    assert "db is healthy" in job.log and "Plan: 2 to create" in job.log
    stack = Stack.objects.get(name=name)
    assert stack.deployed_at is not None and stack.variables == {"APP_PORTS": f"{port}-{port + 10}"}
    db, app = engine.inspect(f"{name}_db_1"), engine.inspect(f"{name}_app_1")
    assert db["State"]["Health"]["Status"] == "healthy" and app["State"]["StartedAt"] > db["State"]["StartedAt"]
    assert "northwind" in http_get(f"http://127.0.0.1:{port}/")

    page = admin_client.get(f"/endpoints/{endpoint.pk}/stacks/{stack.pk}/").content.decode()
    assert f"{name}_app_1" in page and f"{name}_db_1" in page and "healthy" in page
    fragment = admin_client.get(f"/endpoints/{endpoint.pk}/stacks/{stack.pk}/services/").content.decode()
    assert f"{name}_app_1" in fragment and 'id="stack-state" hx-swap-oob="true"' in fragment and "<html" not in fragment
    listing = admin_client.get(f"/endpoints/{endpoint.pk}/stacks/").content.decode()
    assert name in listing and "Limited" not in listing.split(name)[1][:600]

    # redeploy: app's env changes, db stays as it is
    changed = text.replace("DB_USER=root", "DB_USER=admin")
    job = run_job(admin_client.post(f"/endpoints/{endpoint.pk}/stacks/{stack.pk}/edit/", {
        "compose": changed, "var_name": ["APP_PORTS"], "var_value": [f"{port}-{port + 10}"]}))
    assert job.state == Job.SUCCEEDED, job.error
    assert "1 to recreate, 1 up to date" in job.log
    assert engine.inspect(f"{name}_db_1")["Id"] == db["Id"]
    assert engine.inspect(f"{name}_app_1")["Id"] != app["Id"]

    job = run_job(admin_client.post(f"/endpoints/{endpoint.pk}/stacks/{stack.pk}/stop/"))
    assert job.state == Job.SUCCEEDED and engine.inspect(f"{name}_app_1")["State"]["Running"] is False
    job = run_job(admin_client.post(f"/endpoints/{endpoint.pk}/stacks/{stack.pk}/start/"))
    assert job.state == Job.SUCCEEDED and engine.inspect(f"{name}_db_1")["State"]["Running"] is True

    job = run_job(admin_client.post(f"/endpoints/{endpoint.pk}/stacks/{stack.pk}/remove/"))
    assert job.state == Job.SUCCEEDED, job.error
    assert engine.docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={name}").stdout.strip() == ""
    assert engine.docker("network", "inspect", f"{name}_app-net").returncode != 0
    assert engine.docker("volume", "inspect", f"{name}_data").returncode == 0
    assert not Stack.objects.filter(pk=stack.pk).exists()
    actions = set(Activity.objects.values_list("action", flat=True))
    assert {"stack.create", "stack.update", "stack.stop", "stack.start", "stack.remove", "stack.deploy"} <= actions


def test_remove_with_volumes_and_a_console_stack_that_would_need_a_build(admin_client, endpoint, engine, name) -> None:  # type: ignore[no-untyped-def]
    text = ("services:\n  web:\n    image: busybox\n    command: [sleep, '1000']\n    volumes: [keep:/data]\n"
            "  app:\n    image: not-built-here:v1\n    build: ./app\n    profiles: [later]\n"
            "volumes:\n  keep:\n")
    job = run_job(admin_client.post(f"/endpoints/{endpoint.pk}/stacks/new/", {"name": name, "compose": text}))
    assert job.state == Job.SUCCEEDED, job.error  # the profile "later" is not enabled: app is left out
    stack = Stack.objects.get(name=name)
    stack.compose = text.replace("    profiles: [later]\n", "")
    stack.save()
    failed = run_job(admin_client.post(f"/endpoints/{endpoint.pk}/stacks/{stack.pk}/edit/", {"compose": stack.compose}))
    assert failed.state == Job.FAILED and "no build context" in failed.error
    assert engine.inspect(f"{name}_web_1")["State"]["Running"] is True  # nothing else was touched
    job = run_job(admin_client.post(f"/endpoints/{endpoint.pk}/stacks/{stack.pk}/remove/", {"volumes": "on"}))
    assert job.state == Job.SUCCEEDED and engine.docker("volume", "inspect", f"{name}_keep").returncode != 0


def test_the_pages_render_and_require_an_administrator(client, admin_client, endpoint, django_user_model) -> None:  # type: ignore[no-untyped-def]
    for path in ("", "new/", "templates/", "templates/0/"):
        page = admin_client.get(f"/endpoints/{endpoint.pk}/stacks/{path}")
        assert page.status_code == 200, path
    assert "No stacks yet" in admin_client.get(f"/endpoints/{endpoint.pk}/stacks/").content.decode()
    assert 'href="/endpoints/%d/stacks/"' % endpoint.pk in admin_client.get(f"/endpoints/{endpoint.pk}/stacks/").content.decode()
    assert client.get(f"/endpoints/{endpoint.pk}/stacks/").status_code == 302
    user = django_user_model.objects.create_user("plain", password="x-plain-pass-1")
    client.force_login(user)
    assert client.get(f"/endpoints/{endpoint.pk}/stacks/").status_code == 403
    assert client.post(f"/endpoints/{endpoint.pk}/stacks/new/", {"name": "x"}).status_code == 403


def test_an_uploaded_compose_file(admin_client, endpoint, engine, name) -> None:  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = SimpleUploadedFile("docker-compose.yml", b"services:\n  web:\n    image: busybox\n    ports: ['x:y']\n")
    refused = admin_client.post(f"/endpoints/{endpoint.pk}/stacks/new/", {"name": name, "upload": bad})
    assert refused.status_code == 400 and "line 4: services.web.ports[0]" in refused.content.decode()
    good = SimpleUploadedFile("docker-compose.yml", b"services:\n  web:\n    image: busybox\n    command: [sleep, '600']\n")
    job = run_job(admin_client.post(f"/endpoints/{endpoint.pk}/stacks/new/", {"name": name, "upload": good,
                                                                              "compose": "ignored: when a file is sent"}))
    assert job.state == Job.SUCCEEDED, job.error
    assert engine.inspect(f"{name}_web_1")["State"]["Running"] is True
    assert Activity.objects.get(action="stack.create", outcome="success").details["source"] == "upload"
