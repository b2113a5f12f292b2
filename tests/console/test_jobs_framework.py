"""The jobs framework in this process: start, run (console.jobs.framework.execute, as a worker does),
progress, failures, cancel, stale messages, recovery of orphans, the bounded log. The real worker,
killed mid-job, is in test_jobs_worker.py."""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from console.audit.models import Activity
from console.jobs import lifecycle, recovery
from console.jobs.framework import execute, retrying, start_job
from console.jobs.models import LOG_DROPPED, MAX_LOG_CHARS, Job
from console.jobs.reporting import bounded_log
from tests.console import jobs_testkinds  # noqa: F401 - registers the test kinds

pytestmark = pytest.mark.django_db(transaction=True)


def settled(fn, *args):  # type: ignore[no-untyped-def]
    """fn(*args), retried while the test database (SQLite in memory, shared cache) is locked by a job's
    reporter thread — a test-only condition: real databases wait instead of refusing."""
    return retrying(fn, *args, attempts=20)


def run(job: Job) -> Job:
    """Run the job here as a worker would; the job as it ended."""
    execute(job.pk, job.dispatches)
    job.refresh_from_db()
    return job


def broker_messages() -> list[tuple[str, list]]:
    """(task name, args) of the task messages waiting on the test Redis (Celery's default queue)."""
    r = redis.Redis(unix_socket_path=settings.REDIS_URL.removeprefix("unix://").split("?")[0])
    out = []
    for raw in r.lrange("celery", 0, -1):
        message = json.loads(raw)
        args = json.loads(base64.b64decode(message["body"]))[0]
        out.append((message["headers"]["task"], args))
    return out


def test_it_queues_a_job_and_sends_it_when_the_transaction_commits(admin_user, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        job = start_job("test.steps", title="Count to three", user=admin_user, params={"steps": 3})
    assert job.state == Job.QUEUED and job.dispatches == 1 and job.username == admin_user.username
    assert broker_messages().count(("jobs.test.steps", [job.pk, 1])) == 1
    assert Activity.objects.get(action="job.start", target="Count to three").username == admin_user.username


def test_it_runs_a_job_with_progress_items_log_and_result(admin_user) -> None:  # type: ignore[no-untyped-def]
    job = run(start_job("test.steps", title="Steps", user=admin_user, params={"steps": 3, "delay": 0.05}))
    assert job.state == Job.SUCCEEDED and job.progress == 1.0 and job.runs == 1
    assert job.result == {"steps": 3, "run": 1}
    assert [i["status"] for i in job.items] == ["Done"] * 3 and job.items[0]["label"] == "Step 1"
    assert "step 3 of 3 done" in job.log and job.log_length == len(job.log)
    assert job.started_at and job.finished_at and job.error == ""
    outcome = Activity.objects.get(action="test.steps")
    assert outcome.outcome == Activity.SUCCESS and outcome.username == admin_user.username


def test_a_failed_job_says_why(admin_user) -> None:  # type: ignore[no-untyped-def]
    job = run(start_job("test.fail", title="Fail", user=admin_user, params={"message": "the registry said no"}))
    assert job.state == Job.FAILED and job.error == "the registry said no"
    assert "about to fail" in job.log
    crashed = run(start_job("test.crash", title="Crash", user=admin_user))
    assert crashed.state == Job.FAILED and crashed.error == "ValueError: boom"
    unknown = run(start_job("test.nothing-handles-this", title="Orphan kind", user=admin_user))
    assert unknown.state == Job.FAILED and "no handler" in unknown.error
    assert Activity.objects.get(action="test.fail").message == "the registry said no"


def test_stale_and_duplicate_messages_are_dropped(admin_user) -> None:  # type: ignore[no-untyped-def]
    job = start_job("test.steps", title="Once", user=admin_user, params={"steps": 1})
    Job.objects.filter(pk=job.pk).update(dispatches=2)
    assert execute(job.pk, 1).startswith("stale message")
    assert execute(job.pk, 2) == Job.SUCCEEDED
    assert execute(job.pk, 2) == "already succeeded"
    assert execute(987654, 1) == "no such job"


def test_cancel_a_queued_job_ends_it_at_once(admin_user, rf) -> None:  # type: ignore[no-untyped-def]
    job = start_job("test.steps", title="Never runs", user=admin_user)
    request = rf.post("/")
    request.user = admin_user
    assert lifecycle.cancel(job, request) == "Cancelled before it started."
    job.refresh_from_db()
    assert job.state == Job.CANCELLED and "Cancelled by admin" in job.log
    assert execute(job.pk, job.dispatches) == "already cancelled"


def test_cancel_a_running_job_stops_it_at_its_next_step(admin_user, rf) -> None:  # type: ignore[no-untyped-def]
    job = start_job("test.steps", title="Long", user=admin_user, params={"steps": 50, "delay": 0.1})
    worker = threading.Thread(target=execute, args=(job.pk, job.dispatches))
    worker.start()
    deadline = time.monotonic() + 10
    while settled(lambda: Job.objects.get(pk=job.pk).state) != Job.RUNNING and time.monotonic() < deadline:
        time.sleep(0.05)
    request = rf.post("/")
    request.user = admin_user
    job.refresh_from_db()
    assert settled(lifecycle.cancel, job, request).startswith("Cancelling")
    worker.join(15)
    job.refresh_from_db()
    assert job.state == Job.CANCELLED and job.status_text == "Cancelled"
    assert job.progress is not None and job.progress < 1


def test_an_orphan_is_queued_again_then_failed_after_the_last_run(admin_user, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    job = start_job("test.steps", title="Orphan", user=admin_user)
    dead_pid = 2 ** 22 + 17  # above pid_max's default: no such process
    Job.objects.filter(pk=job.pk).update(state=Job.RUNNING, runs=1, worker_host=recovery.this_host(), worker_pid=dead_pid,
                                         heartbeat_at=timezone.now())
    job.refresh_from_db()
    assert "is gone" in recovery.worker_gone(job)
    with django_capture_on_commit_callbacks(execute=True):
        assert recovery.recover_orphans() == {Job.QUEUED: 1}
    job.refresh_from_db()
    assert job.state == Job.QUEUED and job.dispatches == 2 and "queued to run again" in job.log
    assert ("jobs.test.steps", [job.pk, 2]) in broker_messages()
    # the last allowed run's worker dies too: failed, with the reason
    Job.objects.filter(pk=job.pk).update(state=Job.RUNNING, runs=recovery.MAX_RUNS, heartbeat_at=timezone.now() - timedelta(minutes=5),
                                         worker_host="elsewhere", worker_pid=1)
    job.refresh_from_db()
    assert recovery.recover_orphans() == {Job.FAILED: 1}
    job.refresh_from_db()
    assert job.state == Job.FAILED and "stopped 3 times" in job.error and "no heartbeat" in job.error


def test_a_kind_that_must_not_run_twice_fails_when_its_worker_dies(admin_user) -> None:  # type: ignore[no-untyped-def]
    job = start_job("test.once", title="Once only", user=admin_user)
    Job.objects.filter(pk=job.pk).update(state=Job.RUNNING, runs=1, rerun=False, worker_host="elsewhere", worker_pid=1,
                                         heartbeat_at=timezone.now() - timedelta(minutes=1))
    assert recovery.sweep() == {Job.FAILED: 1}
    job.refresh_from_db()
    assert job.state == Job.FAILED and "not started twice" in job.error and job.finished_at


def test_a_live_worker_is_left_alone_and_queued_jobs_are_sent_again_at_worker_start(admin_user) -> None:  # type: ignore[no-untyped-def]
    running = start_job("test.steps", title="Alive", user=admin_user)
    Job.objects.filter(pk=running.pk).update(state=Job.RUNNING, runs=1, worker_host=recovery.this_host(),
                                             worker_pid=__import__("os").getpid(), heartbeat_at=timezone.now())
    waiting = start_job("test.steps", title="Waiting", user=admin_user)
    counts = recovery.on_worker_start()
    assert counts == {"resent": 1}
    assert Job.objects.get(pk=running.pk).state == Job.RUNNING
    waiting.refresh_from_db()
    assert waiting.dispatches == 2
    assert execute(waiting.pk, 1).startswith("stale message") and execute(waiting.pk, 2) == Job.SUCCEEDED


def test_the_log_keeps_its_tail() -> None:
    assert bounded_log("short") == "short"
    long = "".join(f"line {i}\n" for i in range(100_000))
    kept = bounded_log(long)
    assert len(kept) <= MAX_LOG_CHARS and kept.startswith(LOG_DROPPED) and kept.endswith("line 99999\n")
    assert kept[len(LOG_DROPPED):].startswith("line ")


def test_a_chatty_job_keeps_a_bounded_log_and_counts_everything(admin_user) -> None:  # type: ignore[no-untyped-def]
    job = run(start_job("test.chatty", title="Chatty", user=admin_user, params={"chars": 400_000}))
    assert job.state == Job.SUCCEEDED and job.log_length == 400_000
    assert len(job.log) <= MAX_LOG_CHARS and job.log.startswith(LOG_DROPPED)


def test_uploads_are_kept_for_the_worker_and_removed_when_the_job_ends(admin_user) -> None:  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    job = start_job("test.steps", title="With a file", user=admin_user, files={"data": SimpleUploadedFile("d.bin", b"abc")})
    folder = lifecycle.uploads_dir(job.pk)
    assert (folder / "data").read_bytes() == b"abc" and job.files == ["data"]
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    run(job)
    assert not folder.exists()


def test_job_tasks_survive_a_dead_worker_and_the_beat_sweeps() -> None:
    from console.celery import app
    from console.jobs.tasks import SWEEP_TASK

    app.loader.import_default_modules()
    task = app.tasks["jobs.test.steps"]
    assert task.acks_late and task.reject_on_worker_lost
    assert app.conf.beat_schedule[SWEEP_TASK]["schedule"] == recovery.SWEEP_INTERVAL
