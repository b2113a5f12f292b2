"""Images pages, under /endpoints/<eid>/images/ (fixed words before <image_id>, which is hex)."""

from __future__ import annotations

from django.urls import path

from console.images import actions, views

app_name = "images"
urlpatterns = [
    path("", views.image_list, name="list"),
    path("rows/", views.image_rows, name="rows"),
    path("updates/", views.check_updates, name="check-updates"),
    path("pull/", actions.pull, name="pull"),
    path("build/", actions.build, name="build"),
    path("import/", actions.load, name="load"),
    path("prune/", views.image_prune, name="prune"),
    path("<str:image_id>/", views.image_detail, name="detail"),
    path("<str:image_id>/tag/", actions.tag, name="tag"),
    path("<str:image_id>/push/", actions.push, name="push"),
    path("<str:image_id>/remove/", actions.remove, name="remove"),
    path("<str:image_id>/export/", views.image_export, name="export"),
]
