"""Notification rules, the notifications they sent, and the watcher's state per endpoint.

A `Rule` says: on this endpoint, when a container whose labels match
`label_filter` does `kind`, tell `webhook_url` (POST JSON) or `email_to`.
Each firing (or "send test") is a `Delivery`, whose status follows the sending:
pending → sending → sent | retrying → sending → … | failed. "sending" is claimed by one
worker for one attempt (`attempted_at`); a retry is due at `next_attempt_at`. A delivery
left pending, retrying or sending well past those times (a worker died, a message was
lost) is picked up by the sweep (console/notifications/sweeper.py). `event_key` is unique, so an event
seen twice (the watcher replays a little after a reconnect) notifies once.
`Watch` is what the watcher (manage.py watch_events) last said about an
endpoint, for the notifications page.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.db import models

from console.endpoints.models import Endpoint


class Rule(models.Model):
    UNHEALTHY, DIED, RESTART_LOOP = "unhealthy", "died", "restart_loop"
    KINDS = ((UNHEALTHY, "Container became unhealthy"), (DIED, "Container died with a non-zero exit code"),
             (RESTART_LOOP, "Container is in a restart loop"))
    WEBHOOK, EMAIL = "webhook", "email"
    CHANNELS = ((WEBHOOK, "Webhook (POST JSON)"), (EMAIL, "E-mail"))

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="notification_rules")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=KINDS, default=UNHEALTHY)
    label_filter = models.JSONField(default=dict, blank=True)  # {key: value}; "" means "has the label"
    restart_count = models.PositiveSmallIntegerField(default=3)  # restart loop: this many deaths ...
    restart_window = models.PositiveSmallIntegerField(default=5)  # ... within this many minutes
    channel = models.CharField(max_length=16, choices=CHANNELS, default=WEBHOOK)
    webhook_url = models.CharField(max_length=500, blank=True, default="")
    email_to = models.CharField(max_length=500, blank=True, default="")  # comma-separated addresses
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name", "pk")

    def __str__(self) -> str:
        return self.name

    @property
    def target(self) -> str:
        """Where it sends, for lists (a webhook's scheme and host only: its path may hold a token)."""
        if self.channel == self.EMAIL:
            return self.email_to
        parts = urlsplit(self.webhook_url)
        return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}/…"


class Delivery(models.Model):
    PENDING, SENDING, RETRYING, SENT, FAILED = "pending", "sending", "retrying", "sent", "failed"
    STATUSES = ((PENDING, "pending"), (SENDING, "sending"), (RETRYING, "retrying"), (SENT, "sent"), (FAILED, "failed"))
    WAITING = (PENDING, RETRYING)

    rule = models.ForeignKey(Rule, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="notification_deliveries")
    rule_name = models.CharField(max_length=100)  # kept when the rule is deleted
    kind = models.CharField(max_length=16)
    channel = models.CharField(max_length=16)
    test = models.BooleanField(default=False)
    container_id = models.CharField(max_length=64, blank=True, default="")
    container_name = models.CharField(max_length=255, blank=True, default="")
    message = models.TextField()
    payload = models.JSONField(default=dict)
    event_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    status = models.CharField(max_length=16, choices=STATUSES, default=PENDING, db_index=True)
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    attempted_at = models.DateTimeField(null=True, blank=True)  # when the current/last attempt began
    next_attempt_at = models.DateTimeField(null=True, blank=True)  # when a retry is due
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-pk")

    def __str__(self) -> str:
        return f"{self.rule_name}: {self.message} ({self.status})"


class Watch(models.Model):
    """The watcher's last word on an endpoint: following its events, or why not."""

    WATCHING, RECONNECTING = "watching", "reconnecting"
    endpoint = models.OneToOneField(Endpoint, on_delete=models.CASCADE, related_name="notification_watch")
    state = models.CharField(max_length=16, default=RECONNECTING)
    message = models.TextField(blank=True, default="")
    last_event = models.FloatField(null=True, blank=True)  # time of the last event handled (s since the epoch)
    updated_at = models.DateTimeField(auto_now=True)
