from __future__ import annotations

from django.urls import path

from console.endpoints import berth_engine, editing, environments, overview, views

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
    # Environments (groups of endpoints), the overview across endpoints, adding a Berth engine with TLS.
    path("overview/", overview.overview, name="overview"),
    path("overview/<int:eid>/card/", overview.overview_card, name="overview-card"),
    path("endpoints/environments/add/", environments.environment_add, name="endpoint-environment-add"),
    path("endpoints/environments/<int:env_id>/edit/", environments.environment_edit, name="endpoint-environment-edit"),
    path("endpoints/environments/<int:env_id>/delete/", environments.environment_delete, name="endpoint-environment-delete"),
    path("endpoints/<int:eid>/move/", environments.endpoint_move, name="endpoint-move"),
    path("endpoints/add/berth/", berth_engine.berth_engine_add, name="endpoint-add-berth"),
    path("endpoints/<int:eid>/setup/", berth_engine.berth_engine_setup, name="endpoint-berth-setup"),
]
