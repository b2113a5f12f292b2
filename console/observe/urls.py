"""Probes and metrics at the console's root: /healthz/live, /healthz/ready, /metrics."""

from __future__ import annotations

from django.urls import path

from console.observe import views

urlpatterns = [
    path("healthz/live", views.live, name="healthz-live"),
    path("healthz/ready", views.ready, name="healthz-ready"),
    path("metrics", views.scrape, name="metrics"),
]
