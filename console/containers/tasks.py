"""Celery tasks of the containers app: the job kinds for bulk actions (console/containers/jobs.py) and
prunes of containers, images and networks (console/containers/prunes.py), registered on import."""

from __future__ import annotations

from console.containers import (
    jobs,  # noqa: F401 - registers "container.bulk"
    prunes,  # noqa: F401 - registers "prune.containers", "prune.images", "prune.networks"
)
