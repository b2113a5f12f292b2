"""Websocket routes of the jobs framework (console/jobs/consumers.py)."""

from __future__ import annotations

from django.urls import URLPattern, path

from console.jobs import consumers

websocket_urlpatterns: list[URLPattern] = [
    path("ws/jobs/", consumers.JobsConsumer.as_asgi(), name="ws-jobs"),
    path("ws/jobs/<int:job_id>/", consumers.JobConsumer.as_asgi(), name="ws-job"),
]
