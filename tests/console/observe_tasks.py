"""Celery tasks for the metrics tests: one that succeeds, one that fails.

Imported by the worker that tests/console/test_observe_metrics.py starts (`-I tests.console.observe_tasks`).
"""

from __future__ import annotations

import time

from celery import shared_task


class DeliberateFailure(Exception):
    pass


@shared_task(name="observe_test.ok", ignore_result=True)
def ok(seconds: float = 0.0) -> str:
    time.sleep(seconds)
    return "ok"


@shared_task(name="observe_test.boom", ignore_result=True)
def boom() -> None:
    raise DeliberateFailure("deliberately")
