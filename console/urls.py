"""The console's URLs: each app brings its own urls module."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("console.endpoints.urls")),
    path("", include("console.accounts.urls")),
    path("admin/", admin.site.urls),
]
