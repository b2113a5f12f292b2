"""The API docs page: Swagger UI (from drf_spectacular_sidecar, served locally) inside the console's frame."""

from __future__ import annotations

from drf_spectacular.views import SpectacularSwaggerView

from console.accounts.access import IsConsoleAdmin


class ApiDocsView(SpectacularSwaggerView):
    """/api/docs/: the schema at /api/schema/ rendered by Swagger UI; no CDN, no internet needed."""

    template_name = "api/docs.html"
    permission_classes = [IsConsoleAdmin]
    title = "API"
