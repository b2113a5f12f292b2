"""Endpoint pages: the home redirect, switching endpoints, the per-endpoint dashboard, the list.

The dashboard renders its counts once with the page; after that the page refreshes
them through `dashboard_stats` (an htmx fragment) when the events websocket reports
a change. The list renders its rows without statuses and each row fetches its own
(`endpoint_row`), so one silent engine does not hold up the page.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from console.accounts.access import admin_required
from console.endpoints.dashboard import COUNTED_TYPES, summarize
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
    return HttpResponseRedirect(reverse("dashboard", args=[endpoint.pk]))


@admin_required
def dashboard(request: HttpRequest, eid: int) -> HttpResponse:
    """The endpoint's dashboard: counts, host, engine, recent events; live through the events websocket."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    request.session["endpoint_id"] = endpoint.pk
    context = {
        "endpoint": endpoint,
        "board": summarize(endpoint),
        "events_socket": f"/ws/endpoints/{endpoint.pk}/events/",
        "counted_types": sorted(COUNTED_TYPES),
    }
    return render(request, "endpoints/dashboard.html", context)


@admin_required
def dashboard_stats(request: HttpRequest, eid: int) -> HttpResponse:
    """The dashboard's counts alone (htmx fragment), read afresh from the engine."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    board = summarize(endpoint, with_events=False)
    return render(request, "endpoints/_stats_response.html", {"endpoint": endpoint, "board": board})


@admin_required
def endpoint_list(request: HttpRequest) -> HttpResponse:
    """All endpoints; each row loads its status on its own (see `endpoint_row`)."""
    current = current_endpoint(request)
    context = {"all_endpoints": Endpoint.objects.all(), "current_id": current.pk if current else None}
    return render(request, "endpoints/list.html", context)


@admin_required
def endpoint_row(request: HttpRequest, eid: int) -> HttpResponse:
    """One endpoint's row of the list with its probed status (htmx fragment)."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    current = current_endpoint(request)
    context = {"endpoint": endpoint, "status": probe(endpoint), "current_id": current.pk if current else None}
    return render(request, "endpoints/_row.html", context)
