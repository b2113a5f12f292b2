"""Endpoint pages: the home redirect, switching endpoints, the per-endpoint dashboard, the list."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render

from console.accounts.access import admin_required
from console.endpoints.health import probe
from console.endpoints.models import Endpoint


def current_endpoint(request: HttpRequest) -> Endpoint | None:
    eid = request.session.get("endpoint_id")
    endpoint = Endpoint.objects.filter(pk=eid).first() if eid else None
    return endpoint or Endpoint.objects.filter(name="local").first() or Endpoint.objects.first()


@admin_required
def home(request: HttpRequest) -> HttpResponse:
    endpoint = current_endpoint(request)
    if endpoint is None:
        return redirect("endpoint-list")
    return redirect("dashboard", eid=endpoint.pk)


@admin_required
def switch(request: HttpRequest) -> HttpResponse:
    """The sidebar's endpoint selector: remember the choice and show that endpoint's dashboard."""
    try:
        eid = int(request.GET.get("eid", ""))
    except ValueError:
        return redirect("home")
    endpoint = get_object_or_404(Endpoint, pk=eid)
    request.session["endpoint_id"] = endpoint.pk
    return HttpResponseRedirect(f"/endpoints/{endpoint.pk}/")


@admin_required
def dashboard(request: HttpRequest, eid: int) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=eid)
    request.session["endpoint_id"] = endpoint.pk
    return render(request, "endpoints/dashboard.html", {"statuses": [probe(endpoint)], "endpoint": endpoint})


@admin_required
def endpoint_list(request: HttpRequest) -> HttpResponse:
    statuses = [probe(endpoint) for endpoint in Endpoint.objects.all()]
    return render(request, "endpoints/list.html", {"statuses": statuses})
