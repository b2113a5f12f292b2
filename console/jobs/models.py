"""The Job: one piece of long work, its progress, log and outcome (see console/jobs/__init__.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse

from console.endpoints.models import Endpoint

MAX_LOG_CHARS = 256 * 1024  # the log keeps its tail; earlier text is replaced by a marker line
LOG_DROPPED = "[… earlier output dropped …]\n"


class Job(models.Model):
    """A job's record, written by the web process (start, cancel) and by the worker running it.

    Lifecycle: QUEUED (a message is on the broker; `dispatches` counts the messages sent, and a
    message carries the count it was sent with, so older copies are recognised and dropped) →
    RUNNING (`worker_host`/`worker_pid` run it and refresh `heartbeat_at`; `runs` counts starts) →
    SUCCEEDED | FAILED (`error` says why) | CANCELLED. `log_length` counts every character ever
    logged, of which `log` keeps the last MAX_LOG_CHARS; browsers use it to join the live stream
    without gaps or repeats.
    """

    QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
    STATES = ((QUEUED, "Queued"), (RUNNING, "Running"), (SUCCEEDED, "Succeeded"), (FAILED, "Failed"),
              (CANCELLED, "Cancelled"))
    ACTIVE = (QUEUED, RUNNING)
    FINISHED = (SUCCEEDED, FAILED, CANCELLED)

    kind = models.CharField(max_length=64, db_index=True)
    title = models.CharField(max_length=200)
    endpoint = models.ForeignKey(Endpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    endpoint_name = models.CharField(max_length=64, blank=True, default="")  # kept when the endpoint goes
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    username = models.CharField(max_length=150, blank=True, default="")
    params = models.JSONField(default=dict, blank=True)
    files = models.JSONField(default=list, blank=True)  # names of the uploads kept for it

    state = models.CharField(max_length=16, choices=STATES, default=QUEUED, db_index=True)
    progress = models.FloatField(null=True, blank=True)  # 0..1; None: unknown
    status_text = models.CharField(max_length=300, blank=True, default="")
    items = models.JSONField(default=list, blank=True)  # [{"id", "label", "status", "current", "total"}]
    log = models.TextField(blank=True, default="")
    log_length = models.BigIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    result = models.JSONField(null=True, blank=True)

    dispatches = models.PositiveIntegerField(default=0)
    runs = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    rerun = models.BooleanField(default=True)  # may run again after its worker died (set from the kind)
    worker_host = models.CharField(max_length=255, blank=True, default="")
    worker_pid = models.IntegerField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["user", "state"])]

    def __str__(self) -> str:
        return f"job {self.pk} {self.kind} {self.state}"

    def get_absolute_url(self) -> str:
        return reverse("jobs:detail", kwargs={"job_id": self.pk})

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE

    @property
    def duration(self) -> float | None:
        """Seconds it ran (so far, while running); None before it started."""
        if self.started_at is None:
            return None
        from django.utils import timezone

        end = self.finished_at or timezone.now()
        return max(0.0, (end - self.started_at).total_seconds())

    @property
    def links(self) -> list[dict[str, Any]]:
        """The result's {"label", "url"} links (local paths only), for buttons on the job page."""
        links = (self.result or {}).get("links") if isinstance(self.result, dict) else None
        return [x for x in links or [] if isinstance(x, dict) and str(x.get("url", "")).startswith("/")]
