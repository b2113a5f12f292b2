"""No job is left "running" without a worker, and no queued job is lost when a worker restarts.

- `worker_gone(job)`: why a running job's worker is gone — its process is dead (same host), or it
  has sent no heartbeat for STALE_AFTER seconds — or "" while it lives.
- `requeue_or_fail(job, reason)`: an orphan runs again (new dispatch; at most MAX_RUNS runs in all),
  or, for kinds that must not run twice and after the last run, fails with the reason.
- `sweep()`: every orphan, plus housekeeping (old jobs, stray uploads). Run by the beat every
  SWEEP_INTERVAL seconds and when the jobs pages load.
- `on_worker_start()`: a starting worker also sends every queued job again: its message may have been
  reserved by the worker that died (with acks_late it would only come back after the broker's
  visibility timeout) or lost with the broker. The copy left behind, if any, is dropped as stale.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import timedelta
from pathlib import Path

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from console.jobs import lifecycle
from console.jobs.models import Job
from console.jobs.reporting import bounded_log

log = logging.getLogger(__name__)

STALE_AFTER = 30  # seconds without a heartbeat after which a worker counts as gone (heartbeats: every 5 s)
MAX_RUNS = 3
SWEEP_INTERVAL = 30.0
KEEP_FINISHED = timedelta(days=30)
UPLOAD_GRACE = 3600  # seconds an upload folder without an active job is kept (its job may not be committed yet)


def this_host() -> str:
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """Whether process `pid` of this host runs (a zombie — dead, not yet reaped — does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill(0)
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def worker_gone(job: Job) -> str:
    """Why the worker running `job` is gone, or "" when it (probably) still runs it."""
    where = f"{job.worker_host or 'unknown host'}, pid {job.worker_pid or '?'}"
    if job.worker_host == this_host() and job.worker_pid and not pid_alive(job.worker_pid):
        return f"its worker process ({where}) is gone"
    if job.heartbeat_at is None or timezone.now() - job.heartbeat_at > timedelta(seconds=STALE_AFTER):
        return f"its worker ({where}) has sent no heartbeat for over {STALE_AFTER} s"
    return ""


def requeue_or_fail(job: Job, reason: str) -> str:
    """Run an orphaned job again, or fail it with `reason`; the state it ended in ("" if it changed meanwhile)."""
    if not job.rerun:
        error = f"The worker running it stopped ({reason}). Jobs of this kind are not started twice: check the result and start it again."
        return Job.FAILED if lifecycle.end(job, Job.FAILED, error, note=error, expect=(Job.RUNNING,)) else ""
    if job.runs >= MAX_RUNS:
        error = f"The worker running it stopped {job.runs} times ({reason}); it is not started again."
        return Job.FAILED if lifecycle.end(job, Job.FAILED, error, note=error, expect=(Job.RUNNING,)) else ""
    note = f"\n— The worker running this job stopped ({reason}); it is queued to run again. —\n"
    with transaction.atomic():
        fresh = Job.objects.select_for_update().filter(pk=job.pk, state=Job.RUNNING, runs=job.runs).first()
        if fresh is None:
            return ""
        offset = fresh.log_length
        Job.objects.filter(pk=job.pk).update(
            state=Job.QUEUED, dispatches=F("dispatches") + 1, worker_pid=None, heartbeat_at=None,
            status_text="Queued again: its worker stopped", log=bounded_log(fresh.log + note),
            log_length=F("log_length") + len(note))
    job.refresh_from_db()
    transaction.on_commit(lambda: lifecycle.send(job))
    lifecycle.announce(job, note, offset)
    log.warning("job %s (%s) queued again: %s", job.pk, job.kind, reason)
    return Job.QUEUED


def recover_orphans() -> dict[str, int]:
    """requeue_or_fail every running job whose worker is gone; counts by outcome."""
    counts: dict[str, int] = {}
    for job in Job.objects.filter(state=Job.RUNNING):
        reason = worker_gone(job)
        if reason:
            outcome = requeue_or_fail(job, reason) or "changed"
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def resend_queued() -> int:
    """Send every queued job again under a new dispatch number (oldest first); how many."""
    sent = 0
    for job in Job.objects.filter(state=Job.QUEUED).order_by("created_at", "id"):
        if Job.objects.filter(pk=job.pk, state=Job.QUEUED, dispatches=job.dispatches).update(dispatches=F("dispatches") + 1):
            job.dispatches += 1
            lifecycle.send(job)
            sent += 1
    return sent


def housekeeping() -> None:
    """Forget finished jobs after KEEP_FINISHED; remove upload folders no active job needs."""
    Job.objects.filter(state__in=Job.FINISHED, finished_at__lt=timezone.now() - KEEP_FINISHED).delete()
    root = lifecycle.uploads_root()
    if not root.is_dir():
        return
    active = {str(pk) for pk in Job.objects.filter(state__in=Job.ACTIVE).values_list("pk", flat=True)}
    settled = time.time() - UPLOAD_GRACE  # a folder being written for a job not yet committed is younger
    for folder in root.iterdir():
        if folder.name.isdigit() and folder.name not in active and folder.stat().st_mtime < settled:
            lifecycle.remove_uploads(int(folder.name))


def sweep() -> dict[str, int]:
    counts = recover_orphans()
    housekeeping()
    return counts


def on_worker_start() -> dict[str, int]:
    """What a starting worker does before it takes messages: recover orphans, send queued jobs again."""
    counts = recover_orphans()
    counts["resent"] = resend_queued()
    if any(counts.values()):
        log.warning("jobs recovered at worker start: %s", counts)
    return counts
