from __future__ import annotations

import os

from django.apps import AppConfig


class ObserveConfig(AppConfig):
    """Wires observation in when Django starts (Daphne, manage.py, and Celery workers alike)."""

    name = "console.observe"
    label = "observe"
    verbose_name = "Observability"

    def ready(self) -> None:
        from console.observe import task_metrics, tracing

        task_metrics.connect_signals()
        if tracing.wanted(os.environ):
            tracing.setup()
