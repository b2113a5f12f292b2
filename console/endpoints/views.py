"""Endpoint pages: the home redirect, switching endpoints, the per-endpoint dashboard, the list.

The dashboard renders its counts once with the page; after that the page refreshes
them through `dashboard_stats` (an htmx fragment) when the events websocket reports
a change. The list renders its rows without statuses and each row fetches its own
(`endpoint_row`), so one silent engine does not hold up the page.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from console.accounts.access import admin_required, home_for, requires, signed_in
from console.accounts.scoped import scoped_board
from console.accounts.policy import can
from console.endpoints.dashboard import COUNTED_TYPES, summarize
from console.endpoints.health import probe
from console.endpoints.environments import grouped
from console.endpoints.models import Endpoint, Environment


def current_endpoint(request: HttpRequest) -> Endpoint | None:
    eid = request.session.get("endpoint_id")
    endpoint = Endpoint.objects.filter(pk=eid).first() if eid else None
    return endpoint or Endpoint.objects.filter(name="local").first() or Endpoint.objects.first()


@signed_in
def home(request: HttpRequest) -> HttpResponse:
    endpoint = current_endpoint(request)
    if not request.user.is_staff and not request.user.is_superuser:
        return home_for(request, endpoint)  # the first endpoint they have a role on (console/accounts/access.py)
    if endpoint is None:
        return redirect("endpoint-list")
    # As Portainer's home: with several engines and none chosen yet, the overview of them all.
    if "endpoint_id" not in request.session and Endpoint.objects.count() > 1:
        return redirect("overview")
    return redirect("dashboard", eid=endpoint.pk)


@signed_in  # the endpoint chosen must be one the user has a role on
def switch(request: HttpRequest) -> HttpResponse:
    """The sidebar's endpoint selector: remember the choice and show that endpoint's dashboard."""
    try:
        eid = int(request.GET.get("eid", ""))
    except ValueError:
        return redirect("home")
    endpoint = get_object_or_404(Endpoint, pk=eid)
    if not can(request.user, endpoint, "endpoint.view"):
        raise Http404("no such endpoint")
    request.session["endpoint_id"] = endpoint.pk
    return HttpResponseRedirect(reverse("dashboard", args=[endpoint.pk]))


@requires("endpoint.view")
def dashboard(request: HttpRequest, eid: int) -> HttpResponse:
    """The endpoint's dashboard: counts, host, engine, recent events; live through the events websocket."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    request.session["endpoint_id"] = endpoint.pk
    context = {
        "endpoint": endpoint,
        "board": scoped_board(request.user, endpoint, summarize(endpoint)),  # counts of what the user may see
        "events_socket": f"/ws/endpoints/{endpoint.pk}/events/",
        "counted_types": sorted(COUNTED_TYPES),
    }
    return render(request, "endpoints/dashboard.html", context)


@requires("endpoint.view")
def dashboard_stats(request: HttpRequest, eid: int) -> HttpResponse:
    """The dashboard's counts alone (htmx fragment), read afresh from the engine."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    board = scoped_board(request.user, endpoint, summarize(endpoint, with_events=False))
    return render(request, "endpoints/_stats_response.html", {"endpoint": endpoint, "board": board})


@admin_required
def endpoint_list(request: HttpRequest) -> HttpResponse:
    """All endpoints, grouped by environment; each row loads its status on its own (see `endpoint_row`)."""
    current = current_endpoint(request)
    all_endpoints = list(Endpoint.objects.select_related("environment"))
    context = {"all_endpoints": all_endpoints, "current_id": current.pk if current else None,
               "groups": grouped(all_endpoints), "environments": list(Environment.objects.all())}
    return render(request, "endpoints/list.html", context)


@admin_required
def endpoint_row(request: HttpRequest, eid: int) -> HttpResponse:
    """One endpoint's row of the list with its probed status (htmx fragment)."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    current = current_endpoint(request)
    context = {"endpoint": endpoint, "status": probe(endpoint), "current_id": current.pk if current else None,
               "environments": list(Environment.objects.all())}
    return render(request, "endpoints/_row.html", context)
