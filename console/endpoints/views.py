from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from console.endpoints.health import probe
from console.endpoints.models import Endpoint


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Each endpoint with whether its engine answers, its version and its counts."""
    statuses = [probe(endpoint) for endpoint in Endpoint.objects.all()]
    return render(request, "endpoints/dashboard.html", {"statuses": statuses})
