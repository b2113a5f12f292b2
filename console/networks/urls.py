"""Network pages, under /endpoints/<eid>/networks/; a network is named by its (short) ID."""

from __future__ import annotations

from django.urls import path

from console.networks import views

app_name = "networks"
urlpatterns = [
    path("", views.network_list, name="list"),
    path("new/", views.network_create, name="create"),
    path("prune/", views.network_prune, name="prune"),
    path("<str:nid>/", views.network_detail, name="detail"),
    path("<str:nid>/connect/", views.network_connect, name="connect"),
    path("<str:nid>/disconnect/", views.network_disconnect, name="disconnect"),
    path("<str:nid>/remove/", views.network_remove, name="remove"),
]
