"""The jobs API: `job_task` registers a handler, `start_job` queues a job, `JobContext` is what a
handler reports through, `execute` is what a worker runs. Usage: console/jobs/__init__.py.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
from celery import shared_task
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, transaction
from django.utils import timezone

from console.audit.log import record
from console.audit.models import Activity
from console.endpoints.client import EngineError, endpoint_client
from console.endpoints.models import Endpoint
from console.jobs import events, lifecycle
from console.jobs.models import Job
from console.jobs.recovery import MAX_RUNS, requeue_or_fail, this_host, worker_gone
from console.jobs.reporting import KEEP, Progress, Publisher, Reporter, Snapshot

log = logging.getLogger(__name__)

Handler = Callable[["JobContext"], Any]


@dataclass(frozen=True)
class JobKind:
    name: str
    handler: Handler
    rerun: bool


KINDS: dict[str, JobKind] = {}


class JobFailed(Exception):
    """Raise from a handler to end the job "failed" with `message` (shown to the person as it is)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class JobCancelled(Exception):
    """Raised by JobContext.check_cancelled() once a cancel was asked for; ends the job "cancelled"."""


class JobLost(Exception):
    """This run no longer owns the job (another run took it over); the handler should just stop."""


def job_task(kind: str, *, rerun: bool = True) -> Callable[[Handler], Handler]:
    """Register `handler(job: JobContext) -> result` for jobs of `kind`, as the Celery task "jobs.<kind>".

    `rerun=False`: when its worker dies mid-run the job fails instead of running again (for work that
    must not happen twice). Returns the handler unchanged (call it directly in tests if you like).
    """
    def register(handler: Handler) -> Handler:
        KINDS[kind] = JobKind(kind, handler, rerun)

        def run(job_id: int, dispatch: int) -> str:
            return execute(job_id, dispatch)

        run.__name__ = run.__qualname__ = "run_" + kind.replace(".", "_").replace("-", "_")
        shared_task(name=lifecycle.task_name(kind), acks_late=True, reject_on_worker_lost=True, ignore_result=True)(run)
        return handler

    return register


def start_job(kind: str, *, title: str, request: Any = None, user: Any = None, endpoint: Endpoint | None = None,
              params: dict[str, Any] | None = None, files: dict[str, UploadedFile] | None = None) -> Job:
    """Create a queued job and send it to the workers when the current transaction commits.

    `params` must be JSON (never put secrets in it: workers look credentials up themselves); `files`
    are saved for the worker (JobContext.file(name)) and removed when the job ends. The user is
    `user`, else `request.user`. Recorded in the activity log as "job.start".
    """
    user = user if user is not None else getattr(request, "user", None)
    user = user if getattr(user, "is_authenticated", False) else None
    job = Job.objects.create(kind=kind, title=title[:200], endpoint=endpoint, endpoint_name=getattr(endpoint, "name", ""),
                             user=user, username=getattr(user, "username", ""), params=params or {}, dispatches=1,
                             status_text="Waiting for a worker")
    if files:
        job.files = lifecycle.save_uploads(job.pk, files)
        job.save(update_fields=["files"])
    record(request if request is not None else lifecycle.as_actor(job), "job.start", job.title, Activity.SUCCESS, "",
           endpoint, job=job.pk, kind=kind)

    def dispatch() -> None:
        lifecycle.send(job)
        lifecycle.announce(job)

    transaction.on_commit(dispatch)
    return job


class JobContext:
    """What a handler gets: its job's parameters and endpoint, and the ways to report progress."""

    def __init__(self, job: Job, progress: Progress) -> None:
        self.job_id, self.kind, self.title = job.pk, job.kind, job.title
        self.params: dict[str, Any] = dict(job.params or {})
        self.endpoint: Endpoint | None = job.endpoint
        self.user = job.user
        self.run = job.runs
        self.files = set(job.files or [])
        self._progress = progress
        self._cancel = threading.Event()
        self._lost = threading.Event()
        self._cancel_callbacks: list[Callable[[], None]] = []

    # -- reporting ------------------------------------------------------------------------------------
    def write(self, text: str) -> None:
        """Append raw text to the log (e.g. a build's output as it streams)."""
        self._check_lost()
        self._progress.write(text)

    def log(self, line: str) -> None:
        """Append a line to the log."""
        self.write(line if line.endswith("\n") else line + "\n")

    def progress(self, fraction: float | None, status: str | None = None) -> None:
        """Overall progress 0..1 (None: unknown), and optionally the status line."""
        self._check_lost()
        self._progress.set(fraction, status)

    def status(self, text: str) -> None:
        self._check_lost()
        self._progress.set(KEEP, text)

    def item(self, key: str, *, label: str | None = None, status: str | None = None, current: int | None = None,
             total: int | None = None, fraction: float | None = None) -> None:
        """Create or update one item's progress (a layer, a container of a bulk action); None keeps a value.

        The item's bar shows `fraction` (0..1) when given, else current/total; current/total are shown
        as byte counts when the item has a total.
        """
        self._check_lost()
        self._progress.set_item(str(key), {"label": label, "status": status, "current": current, "total": total,
                                           "fraction": None if fraction is None else max(0.0, min(1.0, fraction))})

    # -- cancelling -----------------------------------------------------------------------------------
    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        self._check_lost()
        if self._cancel.is_set():
            raise JobCancelled()

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Call `callback` (from another thread) when a cancel is asked for; at once if it already was."""
        self._cancel_callbacks.append(callback)
        if self._cancel.is_set():
            callback()

    def cancel_requested(self) -> None:  # called by the reporter thread
        self._cancel.set()
        for callback in list(self._cancel_callbacks):
            try:
                callback()
            except Exception as exc:  # a stream already closed, say; the check raises anyway
                log.debug("job %s: cancel callback: %s", self.job_id, exc)

    def lost(self) -> None:  # called by the reporter thread
        self._lost.set()
        self.cancel_requested()

    @property
    def is_lost(self) -> bool:
        return self._lost.is_set()

    def _check_lost(self) -> None:
        if self._lost.is_set():
            raise JobLost()

    # -- resources ------------------------------------------------------------------------------------
    @contextmanager
    def engine(self, timeout: float = 60) -> Iterator[docker.DockerClient]:
        """A Docker SDK client for the job's endpoint (console/endpoints/client.py; errors → EngineError)."""
        if self.endpoint is None:
            raise JobFailed("the job's endpoint no longer exists")
        with endpoint_client(self.endpoint, timeout=timeout) as client:
            yield client

    def file(self, name: str) -> Path:
        """The upload saved under `name` by start_job(files=…)."""
        path = lifecycle.uploads_dir(self.job_id) / name
        if name not in self.files or not path.is_file():
            raise JobFailed(f"the uploaded file {name!r} is gone; upload it again")
        return path


# -- running (the worker side) ---------------------------------------------------------------------------

def claim(job_id: int, dispatch: int) -> tuple[Job | None, str]:
    """Take the job for this process if the message is current and the job waits (or its worker is gone)."""
    kind = KINDS.get(Job.objects.filter(pk=job_id).values_list("kind", flat=True).first() or "")
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            return None, "no such job"
        if job.dispatches != dispatch:
            return None, f"stale message (dispatch {dispatch}, current {job.dispatches})"
        if job.state == Job.RUNNING:
            reason = worker_gone(job)
            if not reason:
                return None, "already running"
            job.rerun = kind.rerun if kind else job.rerun
            return None, f"orphan: {requeue_or_fail(job, reason) or 'changed'}"
        if job.state != Job.QUEUED:
            return None, f"already {job.state}"
        runs = job.runs + 1
        now = timezone.now()
        Job.objects.filter(pk=job_id).update(
            state=Job.RUNNING, runs=runs, started_at=job.started_at or now, heartbeat_at=now, worker_host=this_host(),
            worker_pid=os.getpid(), rerun=kind.rerun if kind else True,
            status_text="Started" if runs == 1 else f"Started again (run {runs} of at most {MAX_RUNS})")
    job.refresh_from_db()
    return job, "claimed"


def retrying(fn: Callable[..., Any], *args: Any, attempts: int = 5) -> Any:
    """fn(*args), tried again after a short wait when the database is busy or locked."""
    for attempt in range(attempts):
        try:
            return fn(*args)
        except DatabaseError as exc:
            if attempt == attempts - 1:
                raise
            log.warning("database busy (%s); trying again", exc)
            time.sleep(0.2 * (attempt + 1))
    return None


def execute(job_id: int, dispatch: int) -> str:
    """Run the job's handler if this message may (see claim); the state it ended in, or why it did not run."""
    job, why = retrying(claim, job_id, dispatch)
    if job is None:
        log.info("job %s dispatch %s not run: %s", job_id, dispatch, why)
        return why
    progress, publisher = Progress(job), Publisher()
    ctx = JobContext(job, progress)
    if job.cancel_requested:
        ctx.cancel_requested()
    publisher.send(events.messages_for(job))
    reporter = Reporter(job, progress, publisher, ctx.cancel_requested, ctx.lost)
    reporter.start()
    state, error, result = Job.FAILED, "", None
    try:
        state, error, result = _call(job, ctx)
    finally:
        reporter.stop()
        if ctx.is_lost:
            log.warning("job %s: another run owns it now; this run stops", job.pk)
        else:
            retrying(_finish, job, progress.take(), publisher, state, error, result)
        publisher.close()
    return state if not ctx.is_lost else "lost"


def _call(job: Job, ctx: JobContext) -> tuple[str, str, Any]:
    """Call the handler; (state, error, result) from how it returned or what it raised."""
    kind = KINDS.get(job.kind)
    try:
        if kind is None:
            raise JobFailed(f"this worker has no handler for jobs of kind {job.kind!r} (is its app installed?)")
        return Job.SUCCEEDED, "", kind.handler(ctx)
    except JobCancelled:
        return Job.CANCELLED, "", None
    except JobLost:
        return Job.FAILED, "", None
    except (JobFailed, EngineError) as exc:
        return (Job.CANCELLED, "", None) if ctx.cancelled else (Job.FAILED, exc.message, None)
    except Exception as exc:
        if ctx.cancelled:  # e.g. the stream an on_cancel callback closed
            return Job.CANCELLED, "", None
        log.exception("job %s (%s) failed", job.pk, job.kind)
        return Job.FAILED, f"{type(exc).__name__}: {exc}", None


def _json_result(result: Any) -> Any:
    if result is None:
        return None
    value = result if isinstance(result, dict) else {"value": result}
    return json.loads(json.dumps(value, default=str))


def _finish(job: Job, snap: Snapshot | None, publisher: Publisher, state: str, error: str, result: Any) -> None:
    """Write the outcome and the last progress (if this run still owns the job), publish it, remove uploads, record it."""
    fields: dict[str, Any] = dict(snap.fields) if snap else {}
    if state == Job.SUCCEEDED:
        fields["progress"] = 1.0
    if state == Job.CANCELLED:
        fields["status_text"] = "Cancelled"
    now = timezone.now()
    fields.update(state=state, error=error[:10_000], result=_json_result(result), finished_at=now, heartbeat_at=now)
    if not Job.objects.filter(pk=job.pk, runs=job.runs, state=Job.RUNNING).update(**fields):
        log.warning("job %s: ended elsewhere before this run could record %s", job.pk, state)
        return
    job.refresh_from_db()
    publisher.send(events.messages_for(job, snap.log_text if snap else "", snap.log_offset if snap else 0))
    lifecycle.remove_uploads(job.pk)
    lifecycle.record_outcome(job)
