"""The activity log in Django's admin: read-only (no add, change or delete)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from console.audit.models import Activity


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ("created_at", "username", "remote_addr", "action", "target", "endpoint", "outcome")
    list_filter = ("outcome", "endpoint")
    search_fields = ("username", "action", "target", "message", "remote_addr")

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
