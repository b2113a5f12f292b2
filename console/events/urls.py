"""The events page, under /endpoints/<eid>/events/."""

from __future__ import annotations

from django.urls import path

from console.events import views

app_name = "events"
urlpatterns = [
    path("", views.events_page, name="page"),
]
