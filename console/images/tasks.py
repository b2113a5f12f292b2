"""Celery tasks of the images app: the image jobs (pull, push, build, load — console/images/jobs.py,
registered on import) and the background "update available" check."""

from __future__ import annotations

from celery import shared_task

from console.images import (
    jobs,  # noqa: F401 - registers the image job kinds in the worker
    updates,
)


@shared_task(name=updates.CHECK_TASK, ignore_result=True, expires=600)
def check_tags(endpoint_id: int, tags: list[str]) -> dict[str, str]:
    """Ask the registry for each tag's digest (console/images/updates.py) and remember it."""
    return updates.run_checks(endpoint_id, tags[:200])
