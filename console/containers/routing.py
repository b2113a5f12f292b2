"""Websocket routes for container streams (logs, stats, health, exec)."""

from __future__ import annotations

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
