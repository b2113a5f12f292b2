"""Websocket routes of stacks: the combined live logs of a stack's containers."""

from __future__ import annotations

from django.urls import URLPattern, path

from console.stacks.consumers import StackLogsConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/endpoints/<int:eid>/stacks/<int:sid>/logs/", StackLogsConsumer.as_asgi(), name="ws-stack-logs"),
]
