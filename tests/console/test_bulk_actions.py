"""Bulk actions on the containers list as background jobs ("container.bulk"), against the session's real Berth engine.

The list posts the selection; the answer is the job's live panel (htmx) or its page. The job is run
here as a worker would (console.jobs.framework.execute); each container is an item of the job.
"""

from __future__ import annotations

import secrets

import pytest
from django.urls import reverse

from console.audit.models import Activity
from console.containers import jobs as container_jobs
from console.jobs.framework import execute
from console.jobs.models import Job
from tests.console.access_roles import make_people

pytestmark = pytest.mark.django_db(transaction=True)

POLITE = ("sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done")


def name() -> str:
    return f"bulk-{secrets.token_hex(3)}"


def state(docker, cid: str) -> str:  # type: ignore[no-untyped-def]
    return docker("inspect", "-f", "{{.State.Status}}", cid).stdout.strip()


def bulk(client, endpoint, action: str, *ids: str, force: bool = False, htmx: bool = True):  # type: ignore[no-untyped-def]
    data = {"action": action, "ids": list(ids), **({"force": "on"} if force else {})}
    extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(reverse("containers:bulk", kwargs={"eid": endpoint.pk}), data, **extra)


def run_latest() -> Job:
    job = Job.objects.filter(kind=container_jobs.BULK_KIND).latest("pk")
    execute(job.pk, job.dispatches)
    job.refresh_from_db()
    return job


def test_bulk_actions_run_as_a_job_with_an_item_per_container(admin_client, endpoint, run_busybox, docker) -> None:  # type: ignore[no-untyped-def]
    a, b = run_busybox(*POLITE, name=name()), run_busybox(*POLITE, name=name())
    for action, expected, words in (("pause", "paused", "Paused 2 containers."), ("unpause", "running", "Resumed 2 containers."),
                                    ("stop", "exited", "Stopped 2 containers."), ("start", "running", "Started 2 containers."),
                                    ("restart", "running", "Restarted 2 containers."), ("kill", "exited", "Killed 2 containers.")):
        response = bulk(admin_client, endpoint, action, a, b)
        body = response.content.decode()
        assert response.status_code == 200 and "data-job-panel=" in body and 'data-job-event="containers-changed"' in body
        job = run_latest()
        assert job.state == Job.SUCCEEDED, (action, job.error)
        assert job.status_text == words and job.progress == 1.0 and job.user is not None
        assert {item["id"] for item in job.items} == {a, b}
        assert all(item["fraction"] == 1.0 and item["status"] == words.split()[0] for item in job.items)
        assert (state(docker, a), state(docker, b)) == (expected, expected), action
    assert Activity.objects.filter(action="container.pause", outcome=Activity.SUCCESS, details__id=a).exists()
    assert Activity.objects.filter(action="container.kill", outcome=Activity.SUCCESS).count() == 2

    bulk(admin_client, endpoint, "remove", a, b)
    assert run_latest().result["summary"] == "Removed 2 containers."
    assert docker("ps", "-aq", "--no-trunc").stdout.split().count(a) == 0


def test_a_bulk_job_fails_saying_which_containers_and_the_engines_words(admin_client, endpoint, run_busybox, docker) -> None:  # type: ignore[no-untyped-def]
    running = run_busybox(*POLITE, name=name())
    stopped = docker("create", "--name", name(), "busybox", "true").stdout.strip()

    bulk(admin_client, endpoint, "unpause", running, stopped)
    job = run_latest()
    assert job.state == Job.FAILED
    assert "Resumed 0 containers; 2 could not be resumed." in job.error
    assert f"Container {running} is not paused" in job.error  # the engine's own words
    assert all(item["status"].startswith("Failed: ") for item in job.items)
    failures = Activity.objects.filter(action="container.unpause", outcome=Activity.FAILURE)
    assert failures.count() == 2 and f"{running} is not paused" in failures.get(details__id=running).message

    bulk(admin_client, endpoint, "remove", running)
    job = run_latest()
    assert job.state == Job.FAILED and "Stop the container before attempting removal or force remove" in job.error
    assert state(docker, running) == "running"
    bulk(admin_client, endpoint, "remove", running, force=True)
    job = run_latest()
    assert job.state == Job.SUCCEEDED and job.result["summary"] == "Removed 1 container."
    assert Activity.objects.filter(action="container.remove", outcome=Activity.SUCCESS, details__force=True).exists()


def test_bulk_actions_work_without_javascript(admin_client, endpoint, run_busybox, docker) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox(*POLITE, name=name())
    response = bulk(admin_client, endpoint, "stop", cid, htmx=False)
    assert response.status_code == 302 and response["Location"].startswith("/jobs/")
    job = run_latest()
    assert response["Location"] == job.get_absolute_url() and job.state == Job.SUCCEEDED
    assert state(docker, cid) == "exited"
    page = admin_client.get(job.get_absolute_url()).content.decode()
    assert "Stopped 1 container." in page
    assert bulk(admin_client, endpoint, "explode", cid).status_code == 400
    assert "Select containers first." in bulk(admin_client, endpoint, "stop").content.decode()


def test_containers_the_person_may_not_touch_are_refused_at_once_and_no_job_starts(client, endpoint, run_busybox, docker) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox(*POLITE, name=name())
    people, _ = make_people(endpoint)
    client.force_login(people["readonly"])
    before = Job.objects.count()
    body = bulk(client, endpoint, "stop", cid).content.decode()
    assert "1 container could not be stopped" in body and "you are not allowed to do this" in body
    assert Job.objects.count() == before and state(docker, cid) == "running"
