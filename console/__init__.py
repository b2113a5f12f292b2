"""Berth's web console: a Django project (settings, URLs, ASGI and Celery wiring) and its apps."""

from __future__ import annotations

# Load the Celery app whenever Django starts, so @shared_task binds to it.
from console.celery import app as celery_app

__all__ = ["celery_app"]
