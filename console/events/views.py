"""The events page, /endpoints/<eid>/events/: an endpoint's engine events, recent and live, filtered.

The page is a shell: static/js/events.js loads the recent history from the REST
API (console/api/events.py, GET /api/endpoints/<eid>/events/ with the page's
filters) and follows the events websocket (/ws/endpoints/<eid>/events/,
console/endpoints/consumers.py), applying the same filters to what arrives.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from console.accounts.access import requires
from console.endpoints.models import Endpoint
from console.events.history import MAX_EVENTS, SINCE_LABELS, TYPES, EventQuery

ACTIONS = ("create", "start", "die", "stop", "kill", "restart", "destroy", "health_status", "oom", "pause", "unpause",
           "rename", "pull", "tag", "untag", "delete", "connect", "disconnect", "mount", "unmount")


@requires("event.view")
@require_GET
def events_page(request: HttpRequest, eid: int) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=eid)
    if request.session.get("endpoint_id") != endpoint.pk:
        request.session["endpoint_id"] = endpoint.pk
    context = {"endpoint": endpoint, "query": EventQuery.from_params(request.GET), "types": TYPES, "actions": ACTIONS,
               "since_choices": SINCE_LABELS.items(), "max_events": MAX_EVENTS,
               "history_url": reverse("api-events", kwargs={"eid": eid}),
               "containers_url": reverse("containers:list", kwargs={"eid": eid})}
    return render(request, "events/page.html", context)
