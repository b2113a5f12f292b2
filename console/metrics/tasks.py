"""Celery tasks of the stats history: sample every running container every SAMPLE_INTERVAL seconds.

The schedule is registered here, on the console's Celery app, so a worker started
with an embedded beat (`celery -A console worker -B`) or a separate `celery -A
console beat` runs it; nothing else needs configuring. A run that waited longer
than one interval in the queue is dropped (`expires`), so a slow worker never
piles up stale samplings.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from console.celery import app
from console.metrics import sampling
from console.metrics.models import SAMPLE_INTERVAL

SAMPLE_TASK = "metrics.sample_containers"


@shared_task(name=SAMPLE_TASK, ignore_result=True)
def sample_containers() -> dict[str, Any]:
    """Sample all endpoints and trim the history to an hour; what was written, per endpoint."""
    return sampling.sample_all().as_dict()


app.conf.beat_schedule = {
    **(app.conf.beat_schedule or {}),
    SAMPLE_TASK: {"task": SAMPLE_TASK, "schedule": float(SAMPLE_INTERVAL), "options": {"expires": SAMPLE_INTERVAL - 1}},
}
