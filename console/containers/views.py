"""Container pages (the list, the create form, a container's page)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from console.accounts.access import admin_required
from console.endpoints.models import Endpoint


@admin_required
def container_list(request: HttpRequest, eid: int) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=eid)
    return render(request, "containers/list.html", {"endpoint": endpoint})
