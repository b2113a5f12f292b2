"""The Stack: a compose project the console manages on one endpoint."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from console.endpoints.models import Endpoint


class Stack(models.Model):
    """One compose project on one endpoint; `name` is its compose project name (container and network
    names start with it). `compose` is the file's text, `variables` the key/value rows and `env_file`
    an .env text (its entries first, the rows override) — both feed ${VAR} interpolation and
    `env_file: stack.env`. Origin CONSOLE: written, uploaded or made from a template here; ADOPTED: found
    on the engine (docker-compose on the host made it), `working_dir`/`config_files` from its labels.

    The record holds what was last saved; `deployed_at` says when a deploy last succeeded, `placement`
    which endpoint each service was put on then (stop, start, logs and remove act on all of them).
    """

    CONSOLE, ADOPTED = "console", "adopted"
    ORIGINS = ((CONSOLE, "Console"), (ADOPTED, "Adopted"))

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="stacks")
    name = models.CharField(max_length=64)
    compose = models.TextField()
    variables = models.JSONField(default=dict, blank=True)
    env_file = models.TextField(blank=True, default="")
    origin = models.CharField(max_length=16, choices=ORIGINS, default=CONSOLE)
    working_dir = models.CharField(max_length=1024, blank=True, default="")
    config_files = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="stacks")
    created_by_name = models.CharField(max_length=150, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deployed_at = models.DateTimeField(null=True, blank=True)
    # where the last deploy put each service: {service: endpoint id} (x-berth-endpoint, console/endpoints/placement.py)
    placement = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ("name",)
        constraints = [models.UniqueConstraint(fields=["endpoint", "name"], name="stacks_stack_unique_name")]

    def __str__(self) -> str:
        return f"stack {self.name} on {self.endpoint_id}"

    def endpoints(self) -> list[Endpoint]:
        """Every endpoint the stack runs on: its own first, then the others its services were placed on."""
        others = {int(pk) for pk in (self.placement or {}).values()} - {self.endpoint_id}
        return [self.endpoint, *Endpoint.objects.filter(pk__in=others).order_by("name")]

    def get_absolute_url(self) -> str:
        return reverse("stacks:detail", kwargs={"eid": self.endpoint_id, "sid": self.pk})
