"""Jobs pages, websockets and API: the list and a job's page, live progress over /ws/jobs/, cancel, refusals."""

from __future__ import annotations

import threading

import pytest
from asgiref.sync import sync_to_async

from console.jobs.framework import execute, start_job
from console.jobs.models import Job
from tests.console import jobs_testkinds  # noqa: F401 - registers the test kinds
from tests.console.websockets import (
    close_code,
    communicator,
    connect,
    receive_json_until,
    run,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_job_socket_sends_a_snapshot_then_progress_and_log_without_gaps(admin_user) -> None:  # type: ignore[no-untyped-def]
    job = start_job("test.steps", title="Live steps", user=admin_user, params={"steps": 4, "delay": 0.3})
    comm = communicator(f"/ws/jobs/{job.pk}/", admin_user)

    async def scenario() -> list[dict]:
        await connect(comm)
        snapshot = await comm.receive_json_from(10)  # read before the job runs: SQLite in memory locks tables
        worker = threading.Thread(target=execute, args=(job.pk, job.dispatches))
        worker.start()
        got = [snapshot] + await receive_json_until(comm, lambda m: m["job"]["state"] == Job.SUCCEEDED, timeout=30)
        await sync_to_async(worker.join)(10)
        await comm.disconnect()
        return got

    messages = run(scenario)
    assert messages[0]["snapshot"] is True and messages[0]["job"]["state"] == Job.QUEUED
    assert any(m["job"]["state"] == Job.RUNNING and 0 < (m["job"]["progress"] or 0) < 1 for m in messages)
    assert any(len(m["detail"]["items"]) >= 1 for m in messages[1:])
    text, end = "", 0
    for m in messages:  # what a browser does: append what lies beyond what it shows
        chunk = m.get("log")
        if chunk and chunk["offset"] + len(chunk["text"]) > end:
            text += chunk["text"][max(0, end - chunk["offset"]):]
            end = chunk["offset"] + len(chunk["text"])
    job.refresh_from_db()
    assert text == job.log and "step 4 of 4 done" in text
    assert messages[-1]["detail"]["result"] == {"steps": 4, "run": 1}


def test_the_jobs_socket_lists_my_active_jobs_and_their_changes(admin_user) -> None:  # type: ignore[no-untyped-def]
    waiting = start_job("test.steps", title="Mine, waiting", user=admin_user)
    comm = communicator("/ws/jobs/", admin_user)

    async def scenario() -> list[dict]:
        await connect(comm)
        first = await comm.receive_json_from(10)
        await sync_to_async(execute)(waiting.pk, waiting.dispatches)
        got = await receive_json_until(comm, lambda m: m.get("job", {}).get("state") == Job.SUCCEEDED)
        await comm.disconnect()
        return [first, *got]

    messages = run(scenario)
    assert [j["title"] for j in messages[0]["active"]] == ["Mine, waiting"]
    assert messages[-1]["job"]["id"] == waiting.pk and messages[-1]["job"]["url"] == f"/jobs/{waiting.pk}/"


def test_job_sockets_refuse_strangers_and_unknown_jobs(admin_user, django_user_model) -> None:  # type: ignore[no-untyped-def]
    job = start_job("test.steps", title="Private", user=admin_user)
    bob = django_user_model.objects.create_user("bob", password="x" * 16)

    def refused(path: str, user: object) -> int | None:
        comm = communicator(path, user)

        async def scenario() -> int | None:
            await connect(comm)
            return await close_code(comm)

        return run(scenario)

    assert refused(f"/ws/jobs/{job.pk}/", None) == 4403
    assert refused(f"/ws/jobs/{job.pk}/", bob) == 4404  # someone else's job is not shown (console/accounts)
    assert refused("/ws/jobs/999999/", admin_user) == 4404


def test_the_jobs_page_and_a_jobs_page_show_progress_log_and_outcome(admin_client, admin_user) -> None:  # type: ignore[no-untyped-def]
    done = start_job("test.steps", title="Finished steps", user=admin_user, params={"steps": 2})
    execute(done.pk, done.dispatches)
    failed = start_job("test.fail", title="Broken thing", user=admin_user, params={"message": "disk full"})
    execute(failed.pk, failed.dispatches)
    start_job("test.steps", title="Still waiting", user=admin_user)
    page = admin_client.get("/jobs/").content.decode()
    assert "Finished steps" in page and "Broken thing" in page and "disk full" in page and "Still waiting" in page
    assert page.count('data-job-cancel') == 1  # only the queued one can be cancelled
    only_failed = admin_client.get("/jobs/rows/?state=failed").content.decode()
    assert "Broken thing" in only_failed and "Finished steps" not in only_failed
    detail = admin_client.get(f"/jobs/{done.pk}/").content.decode()
    assert "step 2 of 2 done" in detail and "Succeeded" in detail and f'data-socket="/ws/jobs/{done.pk}/"' in detail
    assert "The job failed" in admin_client.get(f"/jobs/{failed.pk}/").content.decode()
    assert admin_client.get("/jobs/424242/").status_code == 404


def test_cancel_from_the_page_and_the_api(admin_client, admin_user) -> None:  # type: ignore[no-untyped-def]
    one = start_job("test.steps", title="Cancel me", user=admin_user)
    response = admin_client.post(f"/jobs/{one.pk}/cancel/", {"next": "/jobs/"})
    assert response.status_code == 302 and response["Location"] == "/jobs/"
    assert Job.objects.get(pk=one.pk).state == Job.CANCELLED
    two = start_job("test.steps", title="Cancel me too", user=admin_user)
    answer = admin_client.post(f"/api/jobs/{two.pk}/cancel/")
    assert answer.status_code == 200 and answer.json()["job"]["state"] == Job.CANCELLED
    assert "Nothing to cancel" in admin_client.post(f"/api/jobs/{two.pk}/cancel/").json()["message"]


def test_the_jobs_api_lists_and_shows_jobs(admin_client, admin_user) -> None:  # type: ignore[no-untyped-def]
    job = start_job("test.steps", title="API steps", user=admin_user, params={"steps": 2})
    execute(job.pk, job.dispatches)
    start_job("test.steps", title="API waiting", user=admin_user)
    listed = admin_client.get("/api/jobs/?state=succeeded").json()
    assert [j["title"] for j in listed] == ["API steps"]
    assert [j["title"] for j in admin_client.get("/api/jobs/?state=active&mine=1").json()] == ["API waiting"]
    one = admin_client.get(f"/api/jobs/{job.pk}/").json()
    assert one["state"] == "succeeded" and "step 2 of 2 done" in one["log"] and one["result"] == {"steps": 2, "run": 1}
    assert len(one["items"]) == 2
    missing = admin_client.get("/api/jobs/999999/")
    assert missing.status_code == 404 and missing.json()["error"]["status"] == 404


def test_jobs_pages_and_api_need_an_administrator(client, django_user_model, admin_user) -> None:  # type: ignore[no-untyped-def]
    job = start_job("test.steps", title="Admins only", user=admin_user)
    assert client.get("/api/jobs/").status_code == 401
    assert client.get("/jobs/")["Location"].startswith("/login/")
    client.force_login(django_user_model.objects.create_user("eve", password="x" * 16))
    listed = client.get("/jobs/")  # every user sees their own jobs, only (multi-user: console/jobs/views.py)
    assert listed.status_code == 200 and "Admins only" not in listed.content.decode()
    assert client.get(f"/jobs/{job.pk}/").status_code == 404
    assert client.post(f"/jobs/{job.pk}/cancel/").status_code == 404
    assert client.post(f"/api/jobs/{job.pk}/cancel/").status_code == 403
    assert Job.objects.get(pk=job.pk).state == Job.QUEUED
