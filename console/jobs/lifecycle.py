"""Moving jobs between states from outside a running handler: dispatch, announce, end, cancel; uploads.

Used by start_job (framework.py), the pages and API (cancel) and recovery.py. Every state change is
one guarded UPDATE (`WHERE state = <what we saw>`), so a racing worker and page cannot both win.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from asgiref.sync import async_to_sync
from celery import current_app
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from console.audit.log import record
from console.audit.models import Activity
from console.jobs import events
from console.jobs.models import Job
from console.jobs.reporting import bounded_log

log = logging.getLogger(__name__)

UPLOAD_CHUNK = 1 << 20


def task_name(kind: str) -> str:
    """The Celery task that runs jobs of `kind` (registered by framework.job_task)."""
    return f"jobs.{kind}"


def send(job: Job) -> bool:
    """Put a message for the job's current dispatch on the broker (the worker drops older ones).

    A broker that does not answer is logged, not raised: the job stays queued, and the next worker
    to start sends every queued job again (recovery.on_worker_start). False then.
    """
    try:
        current_app.send_task(task_name(job.kind), args=[job.pk, job.dispatches])
    except Exception as exc:
        log.warning("job %s not sent to the broker (it is sent again when a worker starts): %s", job.pk, exc)
        Job.objects.filter(pk=job.pk, state=Job.QUEUED).update(status_text="Waiting: the message broker did not answer")
        return False
    return True


def announce(job: Job, log_text: str = "", log_offset: int = 0) -> None:
    """Publish the job's state to its page and the lists (from sync code outside a worker run)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        for group, message in events.messages_for(job, log_text, log_offset):
            async_to_sync(layer.group_send)(group, message)
    except Exception as exc:  # the row is the truth; a page reload shows it
        log.warning("job %s: state not published: %s", job.pk, exc)


def as_actor(job: Job) -> Any:
    """Something console.audit.log.record takes as the request: the job's user, no address."""
    return SimpleNamespace(user=job.user, META={})


def record_outcome(job: Job) -> None:
    """The activity-log entry for a job that ended: its kind as the action, failure unless it succeeded."""
    ok = job.state == Job.SUCCEEDED
    message = job.error or ("cancelled" if job.state == Job.CANCELLED else "")
    record(as_actor(job), job.kind, job.title, Activity.SUCCESS if ok else Activity.FAILURE, message,
           job.endpoint_name, job=job.pk, state=job.state)


# -- ends and cancels from outside the worker ---------------------------------------------------------

def end(job: Job, state: str, error: str = "", note: str = "", expect: tuple[str, ...] = Job.ACTIVE) -> bool:
    """End `job` as `state` if it is still in one of `expect` (and, when running, the same run).

    `note` is appended to its log. Removes its uploads, records the outcome and announces it. False
    when someone else changed it first.
    """
    now = timezone.now()
    with transaction.atomic():
        fresh = Job.objects.select_for_update().filter(pk=job.pk, state__in=expect, runs=job.runs).first()
        if fresh is None:
            return False
        offset, text = fresh.log_length, (note + "\n" if note and not note.endswith("\n") else note)
        Job.objects.filter(pk=job.pk).update(state=state, error=error, finished_at=now, log=bounded_log(fresh.log + text),
                                             log_length=F("log_length") + len(text))
    job.refresh_from_db()
    remove_uploads(job.pk)
    record_outcome(job)
    announce(job, text, offset)
    return True


def cancel(job: Job, request: Any) -> str:
    """Ask for a cancel: a queued job (or one whose worker is gone) ends at once; a running one is
    told (its handler stops at its next check). Returns what happened, for the person."""
    from console.jobs.recovery import worker_gone

    job.refresh_from_db()
    who = getattr(getattr(request, "user", None), "username", "") or "someone"
    if job.state == Job.QUEUED and end(job, Job.CANCELLED, note=f"Cancelled by {who} before it started.",
                                       expect=(Job.QUEUED,)):
        message = "Cancelled before it started."
    elif job.state == Job.RUNNING and worker_gone(job) and end(
            job, Job.CANCELLED, note=f"Cancelled by {who}; its worker had stopped.", expect=(Job.RUNNING,)):
        message = "Cancelled."
    elif job.state == Job.RUNNING:
        Job.objects.filter(pk=job.pk, state=Job.RUNNING).update(cancel_requested=True)
        job.refresh_from_db()
        announce(job)
        message = "Cancelling: the job stops at its next step."
    else:
        return f"Nothing to cancel: the job has {job.state}."
    record(request, "job.cancel", job.title, Activity.SUCCESS, message, job.endpoint_name, job=job.pk)
    return message


# -- uploads kept for a job ------------------------------------------------------------------------------

def uploads_root() -> Path:
    return Path(settings.VAR_DIR) / "job-uploads"


def uploads_dir(job_id: int) -> Path:
    return uploads_root() / str(int(job_id))


def save_uploads(job_id: int, files: dict[str, UploadedFile]) -> list[str]:
    """Write uploads to the job's private folder (0700), streamed in chunks; their names."""
    folder = uploads_dir(job_id)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    uploads_root().chmod(0o700)
    names = []
    for name, upload in files.items():
        if not name.isidentifier():
            raise ValueError(f"upload names are identifiers, not {name!r}")
        with open(folder / name, "wb") as out:
            for chunk in upload.chunks(UPLOAD_CHUNK):
                out.write(chunk)
        names.append(name)
    return names


def remove_uploads(job_id: int) -> None:
    shutil.rmtree(uploads_dir(job_id), ignore_errors=True)
