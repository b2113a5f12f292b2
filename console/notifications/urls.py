"""Notification pages, under /endpoints/<eid>/notifications/."""

from __future__ import annotations

from django.urls import path

from console.notifications import views

app_name = "notifications"
urlpatterns = [
    path("", views.rule_list, name="list"),
    path("sent/", views.deliveries, name="deliveries"),
    path("new/", views.rule_create, name="create"),
    path("<int:rid>/", views.rule_edit, name="edit"),
    path("<int:rid>/delete/", views.rule_delete, name="delete"),
    path("<int:rid>/test/", views.rule_test, name="test"),
]
