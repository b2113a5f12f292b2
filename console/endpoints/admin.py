from __future__ import annotations

from django.contrib import admin

from console.endpoints.models import Endpoint


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ("name", "url", "created_at")
