"""Celery tasks of the volumes app: the volume job kinds (console/volumes/jobs.py, registered on import)
and the periodic removal of exports past their retention (console/volumes/exports.py)."""

from __future__ import annotations

from celery import shared_task

from console.celery import app
from console.volumes import exports
from console.volumes import jobs  # noqa: F401 - registers the volume job kinds in the worker

EXPIRE_TASK = "volumes.expire_exports"


@shared_task(name=EXPIRE_TASK, ignore_result=True)
def expire_exports() -> int:
    """Remove the export files whose retention is over; how many."""
    return exports.expire()


app.conf.beat_schedule = {
    **(app.conf.beat_schedule or {}),
    EXPIRE_TASK: {"task": EXPIRE_TASK, "schedule": exports.EXPIRE_INTERVAL,
                  "options": {"expires": exports.EXPIRE_INTERVAL - 1}},
}
