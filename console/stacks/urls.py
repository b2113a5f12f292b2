"""Stacks pages, under /endpoints/<eid>/stacks/ (fixed words before <int:sid>)."""

from __future__ import annotations

from django.urls import path

from console.stacks import edit_views, views

app_name = "stacks"
urlpatterns = [
    path("", views.stack_list, name="list"),
    path("new/", edit_views.stack_create, name="create"),
    path("templates/", edit_views.template_list, name="templates"),
    path("templates/<int:index>/", edit_views.template_deploy, name="template"),
    path("adopt/<str:name>/", views.stack_adopt, name="adopt"),
    path("<int:sid>/", views.stack_detail, name="detail"),
    path("<int:sid>/services/", views.stack_services, name="services"),
    path("<int:sid>/edit/", edit_views.stack_edit, name="edit"),
    path("<int:sid>/<str:action>/", edit_views.stack_action, name="action"),
]
