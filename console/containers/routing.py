"""Websocket routes for container streams (logs, stats, exec); health follows the endpoint's events socket."""

from __future__ import annotations

from django.urls import URLPattern, path

from console.containers import consumers

websocket_urlpatterns: list[URLPattern] = [
    path("ws/endpoints/<int:eid>/containers/<str:cid>/logs/", consumers.LogsConsumer.as_asgi(), name="ws-container-logs"),
    path("ws/endpoints/<int:eid>/containers/<str:cid>/stats/", consumers.StatsConsumer.as_asgi(),
         name="ws-container-stats"),
    path("ws/endpoints/<int:eid>/containers/<str:cid>/exec/", consumers.ExecConsumer.as_asgi(), name="ws-container-exec"),
]
