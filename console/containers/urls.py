"""Container pages, under /endpoints/<eid>/containers/."""

from __future__ import annotations

from django.urls import path

from console.containers import views

app_name = "containers"
urlpatterns = [
    path("", views.container_list, name="list"),
]
