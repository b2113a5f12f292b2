"""Celery tasks of the stacks app: the stack job kinds (console/stacks/jobs.py, registered on import)."""

from __future__ import annotations

from console.stacks import jobs  # noqa: F401 - registers the stack job kinds in the worker
