from __future__ import annotations

from django.urls import path

from console.endpoints import views

urlpatterns = [
    path("", views.home, name="home"),
    path("endpoints/", views.endpoint_list, name="endpoint-list"),
    path("endpoints/switch/", views.switch, name="endpoint-switch"),
    path("endpoints/<int:eid>/", views.dashboard, name="dashboard"),
]
