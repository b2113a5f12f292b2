"""Jobs pages, under /jobs/ (not per endpoint: one list for every endpoint's jobs)."""

from __future__ import annotations

from django.urls import path

from console.jobs import views

app_name = "jobs"
urlpatterns = [
    path("", views.job_list, name="list"),
    path("rows/", views.job_rows, name="rows"),
    path("<int:job_id>/", views.job_detail, name="detail"),
    path("<int:job_id>/cancel/", views.job_cancel, name="cancel"),
]
