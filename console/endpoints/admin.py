from __future__ import annotations

from django.contrib import admin

from console.endpoints.models import Endpoint, Environment


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    """Django's admin for endpoints. The TLS key is write-only everywhere, so the admin never shows
    it; set or replace it on the console's endpoint form or through the API."""

    list_display = ("name", "url", "environment", "uses_tls", "created_at")
    fields = ("name", "url", "environment", "tls_ca", "tls_cert")


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    """Django's admin for environments (groups of endpoints); the console's own pages are under /endpoints/."""

    list_display = ("name", "description", "created_at")
    fields = ("name", "description")
