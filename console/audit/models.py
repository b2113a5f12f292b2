"""The activity log: every change made through the console — who, what, when, outcome."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AppendOnly(Exception):
    """The activity log is append-only from the application: entries are never changed or removed."""


class ActivityQuerySet(models.QuerySet):
    def update(self, **kwargs: object) -> int:
        raise AppendOnly("activity entries cannot be changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnly("activity entries cannot be removed")


class Activity(models.Model):
    """One change a user asked for (or a sign-in attempt), and how it ended. Append-only: `save()` refuses to
    change an entry, `delete()` and queryset update/delete refuse (AppendOnly); the Django admin shows it read-only.

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

    objects = ActivityQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)

    def save(self, *args: object, **kwargs: object) -> None:
        """Adds a new entry; refuses to change one that exists (append-only)."""
        if self.pk is not None and not self._state.adding:
            raise AppendOnly("activity entries cannot be changed")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise AppendOnly("activity entries cannot be removed")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.target} {self.outcome}"
