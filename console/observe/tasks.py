"""Periodic tasks of console.observe: the snowflake marks of the containers list.

`observe.refresh_drift` runs every BERTH_DRIFT_INTERVAL seconds on the console's
beat (`celery -A console worker -B`); a run that waited longer than an interval
in the queue is dropped (`expires`), so a slow worker never piles up refreshes.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from console.celery import app
from console.containers import drift

REFRESH_DRIFT_TASK = "observe.refresh_drift"


@shared_task(name=REFRESH_DRIFT_TASK, ignore_result=True)
def refresh_drift(endpoint_ids: list[int] | None = None) -> dict[str, Any]:
    """Record the running containers' change counts of every endpoint (or those listed)."""
    return drift.refresh_all(endpoint_ids)


app.conf.beat_schedule = {
    **(app.conf.beat_schedule or {}),
    REFRESH_DRIFT_TASK: {"task": REFRESH_DRIFT_TASK, "schedule": float(drift.interval()),
                         "options": {"expires": max(1, drift.interval() - 1)}},
}
