"""Websocket routes for endpoint-wide streams (events for the dashboard and lists)."""

from __future__ import annotations

from django.urls import URLPattern, path

from console.endpoints.consumers import EngineEventsConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/endpoints/<int:eid>/events/", EngineEventsConsumer.as_asgi(), name="ws-endpoint-events"),
]
