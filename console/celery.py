"""The Celery app: long jobs (pull, build, stack deploy, prune) run in workers started with `celery -A console worker`.

Configuration comes from Django settings prefixed CELERY_ (the broker is
REDIS_URL); tasks are found in each installed app's `tasks` module.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

app = Celery("console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
