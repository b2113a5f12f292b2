"""Container pages, under /endpoints/<eid>/containers/."""

from __future__ import annotations

from django.urls import path

from console.containers import changes, detail, form_views, views

app_name = "containers"
urlpatterns = [
    path("", views.container_list, name="list"),
    path("rows/", views.container_rows, name="rows"),
    path("actions/", views.bulk_action, name="bulk"),
    path("prune/", views.container_prune, name="prune"),
    path("new/", form_views.create, name="create"),
    path("<str:cid>/duplicate/", form_views.duplicate, name="duplicate"),
    path("<str:cid>/edit/", form_views.edit, name="edit"),
    path("<str:cid>/", detail.container_page, name="detail"),
    path("<str:cid>/parts/", detail.container_parts, name="detail-parts"),
    path("<str:cid>/changes/", changes.changes_panel, name="detail-changes"),
    path("<str:cid>/rename/", detail.container_rename, name="detail-rename"),
    path("<str:cid>/do/<str:action>/", detail.container_action, name="detail-action"),
]
