"""What the console keeps about containers: the spec each one was created from."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from console.endpoints.models import Endpoint


class ContainerSpec(models.Model):
    """The spec a person submitted to create a container, as they wrote it (see console/containers/specs.py).

    One row per container created through the console (form or API). "Duplicate"
    and "Edit" prefill the create form from `spec`, never from the engine's inspect
    output. `container_id` follows the container: "Edit" recreates it under a new
    ID and updates this row. Rows of containers removed outside the console stay
    until their container ID is reused or the endpoint is deleted.
    """

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="container_specs")
    container_id = models.CharField(max_length=64, db_index=True)
    name = models.CharField(max_length=128, blank=True, default="")
    spec = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = [models.UniqueConstraint(fields=("endpoint", "container_id"), name="one_spec_per_container")]

    @classmethod
    def find(cls, endpoint: Endpoint, cid: str) -> ContainerSpec | None:
        """The kept spec of container `cid` — full ID, ID prefix of 12+ characters, or name — if the console made it."""
        match = Q(container_id=cid) | Q(name=cid)
        if len(cid) >= 12:
            match |= Q(container_id__startswith=cid)
        return cls.objects.filter(match, endpoint=endpoint).first()

    def __str__(self) -> str:
        return f"{self.endpoint_id}/{self.name or self.container_id[:12]}"
