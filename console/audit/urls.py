from __future__ import annotations

from django.urls import path

from console.audit import views

urlpatterns = [
    path("activity/", views.activity, name="activity"),
    path("activity/export.csv", views.activity_export, name="activity-export"),
]
