"""Celery wiring of the jobs framework: the periodic sweep, and recovery when a worker starts.

Job handlers register their own tasks with `console.jobs.framework.job_task` (each app's tasks.py).
The sweep is on the console's beat schedule (run by `celery -A console worker -B`); `worker_ready`
fires in a worker's main process once it consumes, and recovers what the previous worker left.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.signals import worker_ready

from console.celery import app
from console.jobs import recovery

log = logging.getLogger(__name__)

SWEEP_TASK = "jobs.sweep"


@shared_task(name=SWEEP_TASK, ignore_result=True)
def sweep() -> dict[str, int]:
    """Orphaned running jobs queued again or failed; old jobs and stray uploads removed."""
    return recovery.sweep()


@worker_ready.connect
def recover_at_worker_start(sender: Any = None, **kwargs: Any) -> None:
    try:
        recovery.on_worker_start()
    except Exception:  # the worker must start even if the database is briefly away; the sweep retries
        log.exception("job recovery at worker start failed")


app.conf.beat_schedule = {
    **(app.conf.beat_schedule or {}),
    SWEEP_TASK: {"task": SWEEP_TASK, "schedule": recovery.SWEEP_INTERVAL,
                 "options": {"expires": recovery.SWEEP_INTERVAL - 1}},
}
