"""What the console remembers about images: the registry's digest for each pulled tag (update checks)."""

from __future__ import annotations

from django.db import models

from console.endpoints.models import Endpoint


class TagCheck(models.Model):
    """The registry's current digest for `tag` as an endpoint's engine sees it, checked in the background.

    A tag has an update when `remote_digest` is set and is not among the digests the local image was
    pulled by (console/images/updates.py compares at render time, so a fresh pull clears the marker
    at once). `requested_at` marks a check that is queued or running; `error` says why the last
    check failed (the registry's words).
    """

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="tag_checks")
    tag = models.CharField(max_length=255)
    remote_digest = models.CharField(max_length=100, blank=True, default="")
    error = models.TextField(blank=True, default="")
    checked_at = models.DateTimeField(null=True, blank=True)
    requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["endpoint", "tag"], name="images_tagcheck_unique")]

    def __str__(self) -> str:
        return f"{self.tag} on {self.endpoint_id}: {self.remote_digest or self.error or 'unchecked'}"
