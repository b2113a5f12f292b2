"""The console's URLs.

Per-endpoint pages live under /endpoints/<eid>/ (so a page is a link that names
its engine); /api/ is the REST API; each app brings its own urls module.
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("console.endpoints.urls")),
    path("endpoints/<int:eid>/containers/", include("console.containers.urls")),
    path("endpoints/<int:eid>/images/", include("console.images.urls")),
    path("jobs/", include("console.jobs.urls")),
    path("registries/", include("console.registries.urls")),
    path("endpoints/<int:eid>/networks/", include("console.networks.urls")),
    path("endpoints/<int:eid>/volumes/", include("console.volumes.urls")),
    path("endpoints/<int:eid>/stacks/", include("console.stacks.urls")),
    path("endpoints/<int:eid>/events/", include("console.events.urls")),
    path("endpoints/<int:eid>/notifications/", include("console.notifications.urls")),
    path("api/", include("console.api.urls")),
    path("", include("console.audit.urls")),
    path("", include("console.accounts.urls")),
    path("admin/", admin.site.urls),
    path("", include("console.observe.urls")),  # /healthz/live, /healthz/ready, /metrics
]
