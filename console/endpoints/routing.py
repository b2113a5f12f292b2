"""Websocket routes for endpoint-wide streams (events for the dashboard and lists)."""

from __future__ import annotations

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
