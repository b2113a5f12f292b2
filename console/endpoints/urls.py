from __future__ import annotations

from django.urls import path

from console.endpoints import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
]
