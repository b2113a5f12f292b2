"""The activity log page: every change and sign-in attempt, newest first, filterable, exportable as CSV."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date

from console.accounts.access import admin_required
from console.audit.log import record
from console.audit.models import Activity

PAGE_SIZE = 50
FILTERS = ("user", "action", "outcome", "endpoint", "q", "ip", "resource", "since", "until")
CSV_COLUMNS = ("created_at", "username", "remote_addr", "endpoint", "action", "target", "outcome", "message", "details")
CSV_LIMIT = 100_000


def filtered(params: dict[str, str]) -> QuerySet[Activity]:
    """Activities matching the filters: exact user/outcome/endpoint; action exact or a prefix ending
    in "." ("endpoint." is every endpoint change); q searches target and message; ip is a source address
    (or its start, "10.1."); resource is text in the target; since/until are dates (YYYY-MM-DD, inclusive)."""
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
    if params["ip"]:
        qs = qs.filter(remote_addr__startswith=params["ip"])
    if params["resource"]:
        qs = qs.filter(Q(target__icontains=params["resource"]) | Q(details__icontains=params["resource"]))
    if (since := _date(params["since"])) is not None:
        qs = qs.filter(created_at__date__gte=since)
    if (until := _date(params["until"])) is not None:
        qs = qs.filter(created_at__date__lte=until)
    return qs


def _date(text: str) -> Any:
    """A date from YYYY-MM-DD, or None (empty or not a real date)."""
    try:
        return parse_date(text) if text else None
    except ValueError:
        return None


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
    params = _params(request)
    page = Paginator(filtered(params), PAGE_SIZE).get_page(request.GET.get("page"))
    for entry in page.object_list:
        entry.details_text = json.dumps(entry.details, indent=2, sort_keys=True) if entry.details else ""
    export = reverse("activity-export") + (f"?{request.GET.urlencode()}" if request.GET else "")
    context = {"page": page, "params": params, "filtering": any(params.values()), "export_url": export, **filter_choices()}
    return render(request, "audit/activity.html", context)


def _params(request: HttpRequest) -> dict[str, str]:
    return {name: request.GET.get(name, "").strip()[:200] for name in FILTERS}


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_rows(entries: Any) -> Iterator[str]:
    """The header, then one CSV line per entry (details as JSON). Cells that a spreadsheet would run as a
    formula (starting with = + - @) are prefixed with ' (CSV injection)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for entry in entries:
        values = [entry.created_at.isoformat(), entry.username, entry.remote_addr, entry.endpoint, entry.action,
                  entry.target, entry.outcome, entry.message, json.dumps(entry.details, sort_keys=True) if entry.details else ""]
        yield writer.writerow(["'" + v if v[:1] in ("=", "+", "-", "@") else v for v in map(str, values)])


@admin_required
def activity_export(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered log as CSV (newest first, at most CSV_LIMIT rows); the export itself is recorded."""
    params = _params(request)
    record(request, "activity.export", "activity log", filters={k: v for k, v in params.items() if v})
    entries = filtered(params)[:CSV_LIMIT].iterator(chunk_size=2000)
    response = StreamingHttpResponse(csv_rows(entries), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="berth-activity-{timezone.now():%Y%m%d-%H%M%S}.csv"'
    return response
