from __future__ import annotations

from django.urls import path

from console.audit import views

urlpatterns = [path("activity/", views.activity, name="activity")]
