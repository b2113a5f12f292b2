"""Registry credentials pages, under /registries/ (console-wide, used by every endpoint's pulls and pushes)."""

from __future__ import annotations

from django.urls import path

from console.registries import views

app_name = "registries"
urlpatterns = [
    path("", views.registry_list, name="list"),
    path("new/", views.registry_add, name="add"),
    path("<int:rid>/edit/", views.registry_edit, name="edit"),
    path("<int:rid>/delete/", views.registry_delete, name="delete"),
    path("<int:rid>/test/", views.registry_test, name="test"),
]
