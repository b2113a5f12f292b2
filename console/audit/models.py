"""The activity log: every change made through the console — who, what, when, outcome."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Activity(models.Model):
    """One change a user asked for, and how it ended.

    `action` is a dotted verb ("container.start", "endpoint.create"), `target` what it
    acted on (a container name or ID, an endpoint name); `details` holds the request's
    parameters with secrets removed (see `console.audit.log.record`).
    """

    SUCCESS, FAILURE, DENIED = "success", "failure", "denied"
    OUTCOMES = ((SUCCESS, "success"), (FAILURE, "failure"), (DENIED, "denied"))

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    username = models.CharField(max_length=150, blank=True, default="")  # kept when the user is deleted
    endpoint = models.CharField(max_length=64, blank=True, default="")
    action = models.CharField(max_length=64, db_index=True)
    target = models.CharField(max_length=255, blank=True, default="")
    outcome = models.CharField(max_length=16, choices=OUTCOMES, default=SUCCESS)
    message = models.TextField(blank=True, default="")
    details = models.JSONField(default=dict, blank=True)
    remote_addr = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.target} {self.outcome}"
