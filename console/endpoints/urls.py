from __future__ import annotations

from django.urls import path

from console.endpoints import editing, views

urlpatterns = [
    path("", views.home, name="home"),
    path("endpoints/", views.endpoint_list, name="endpoint-list"),
    path("endpoints/add/", editing.endpoint_add, name="endpoint-add"),
    path("endpoints/switch/", views.switch, name="endpoint-switch"),
    path("endpoints/<int:eid>/", views.dashboard, name="dashboard"),
    path("endpoints/<int:eid>/stats/", views.dashboard_stats, name="dashboard-stats"),
    path("endpoints/<int:eid>/row/", views.endpoint_row, name="endpoint-row"),
    path("endpoints/<int:eid>/edit/", editing.endpoint_edit, name="endpoint-edit"),
    path("endpoints/<int:eid>/delete/", editing.endpoint_delete, name="endpoint-delete"),
]
