from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from console.lib.urls import check_engine_url

LOCAL_ENDPOINT = "local"


def validate_engine_url(value: str) -> None:
    try:
        check_engine_url(value)
    except ValueError as exc:
        message = str(exc)
        raise ValidationError(message[:1].upper() + message[1:] + ".") from None


class Environment(models.Model):
    """A named group of endpoints ("production", "lab"), as Portainer groups its environments.

    Endpoints belong to at most one environment; removing an environment leaves its
    endpoints ungrouped (never removes them). Names are unique and shown as they are.
    """

    name = models.CharField(max_length=64, unique=True)
    description = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Endpoint(models.Model):
    """An engine the console manages: the local Berth engine, another Berth engine, or a Docker engine.

    `url` is where the engine's Docker Engine API listens: unix:///path/to/socket
    or tcp://host:port. The endpoint named "local" is the engine on this host; it
    is (re)registered from BERTH_ENGINE_HOST after every migrate. A tcp endpoint with
    TLS material is reached with mutual TLS; without, over plain HTTP (which Berth
    engines only offer on loopback).
    """

    name = models.SlugField(max_length=64, unique=True)
    url = models.CharField(max_length=255, validators=[validate_engine_url])
    # Mutual TLS for tcp:// endpoints, Docker's conventions: the CA that signed the
    # engine's certificate, and this console's client certificate and key (PEM).
    tls_ca = models.TextField(blank=True, default="")
    tls_cert = models.TextField(blank=True, default="")
    tls_key = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    # The group it is listed under; None: "no environment".
    environment = models.ForeignKey(Environment, null=True, blank=True, on_delete=models.SET_NULL, related_name="endpoints")

    @property
    def uses_tls(self) -> bool:
        return bool(self.tls_cert and self.tls_key)

    @property
    def is_local(self) -> bool:
        return self.name == LOCAL_ENDPOINT

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name
