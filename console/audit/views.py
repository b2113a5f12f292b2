"""The activity log page: every change made through the console, newest first, filterable."""

from __future__ import annotations

import json
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from console.accounts.access import admin_required
from console.audit.models import Activity

PAGE_SIZE = 50
FILTERS = ("user", "action", "outcome", "endpoint", "q")


def filtered(params: dict[str, str]) -> QuerySet[Activity]:
    """Activities matching the filters: exact user/outcome/endpoint; action exact or a prefix ending
    in "." ("endpoint." is every endpoint change); q searches target and message."""
    qs = Activity.objects.all()
    if params["user"]:
        qs = qs.filter(username=params["user"])
    if params["action"]:
        action = params["action"]
        qs = qs.filter(action__startswith=action) if action.endswith(".") else qs.filter(action=action)
    if params["outcome"]:
        qs = qs.filter(outcome=params["outcome"])
    if params["endpoint"]:
        qs = qs.filter(endpoint=params["endpoint"])
    if params["q"]:
        qs = qs.filter(Q(target__icontains=params["q"]) | Q(message__icontains=params["q"]))
    return qs


def filter_choices() -> dict[str, Any]:
    """The values the filter menus offer: what the log holds. (Not "endpoints": that name is the
    sidebar's list of Endpoint objects, from the context processor.)"""
    def distinct(field: str) -> list[str]:
        return [v for v in Activity.objects.order_by(field).values_list(field, flat=True).distinct() if v]

    actions = distinct("action")
    groups = sorted({a.split(".", 1)[0] + "." for a in actions if "." in a})
    return {"users": distinct("username"), "actions": actions, "action_groups": groups,
            "endpoint_names": distinct("endpoint"), "outcomes": [value for value, _ in Activity.OUTCOMES]}


@admin_required
def activity(request: HttpRequest) -> HttpResponse:
    """The activity log, newest first, PAGE_SIZE to a page, with filters in the query string."""
    params = {name: request.GET.get(name, "").strip() for name in FILTERS}
    page = Paginator(filtered(params), PAGE_SIZE).get_page(request.GET.get("page"))
    for entry in page.object_list:
        entry.details_text = json.dumps(entry.details, indent=2, sort_keys=True) if entry.details else ""
    context = {"page": page, "params": params, "filtering": any(params.values()), **filter_choices()}
    return render(request, "audit/activity.html", context)
