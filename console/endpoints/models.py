from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from console.lib.urls import check_engine_url

LOCAL_ENDPOINT = "local"


def validate_engine_url(value: str) -> None:
    try:
        check_engine_url(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


class Endpoint(models.Model):
    """An engine the console manages: the local Berth engine, another Berth engine, or a Docker engine.

    `url` is where the engine's Docker Engine API listens: unix:///path/to/socket
    or tcp://host:port. The endpoint named "local" is the engine on this host; it
    is (re)registered from BERTH_ENGINE_HOST after every migrate. TLS material for
    tcp endpoints comes with multi-host support; until then tcp means plain HTTP,
    which the engine only offers on loopback.
    """

    name = models.SlugField(max_length=64, unique=True)
    url = models.CharField(max_length=255, validators=[validate_engine_url])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name
