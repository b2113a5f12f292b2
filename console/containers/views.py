"""The containers list: the page, its table (re-rendered live from engine events) and bulk actions.

The table is one template, templates/containers/_table.html, rendered inside
the page and on its own by `container_rows` — which the page's script fetches
when the events websocket reports a container change, and the search/filter
form swaps in with htmx. Bulk actions post to `bulk_action`, which starts a
background job (console/containers/jobs.py) and answers htmx with the job's live
panel (refusals listed), or sends a plain post to the job's page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.timesince import timesince
from django.views.decorators.http import require_POST

from console.accounts import policy
from console.accounts.access import record_denied, requires
from console.containers import drift, listing, prunes
from console.containers.models import ContainerSpec
from console.containers.jobs import start_bulk
from console.containers.operations import ACTION_VERBS, ACTIONS, ActionResult, list_rows
from console.endpoints.client import EngineError
from console.endpoints.models import Endpoint

COLUMNS = (("name", "Name"), ("state", "State"), ("health", "Health"), ("image", "Image"), ("ports", "Ports"),
           ("created", "Created"), ("status", "Status"))
SORTABLE = set(listing.SORT_KEYS)


def detail_url(eid: int, cid: str) -> str:
    """The container page (console/containers/detail.py); its plain path until that URL name exists."""
    try:
        return reverse("containers:detail", kwargs={"eid": eid, "cid": cid})
    except NoReverseMatch:
        return f"/endpoints/{eid}/containers/{cid}/"


def _sort_headers(query: listing.Query) -> list[dict[str, Any]]:
    """Column headers: label, the link that sorts by it (toggling direction), and aria-sort."""
    headers = []
    base = {k: v for k, v in (("q", query.q), ("state", query.state), ("health", query.health)) if v}
    for key, label in COLUMNS:
        head: dict[str, Any] = {"key": key, "label": label, "href": "", "aria_sort": ""}
        if key in SORTABLE:
            current = query.sort == key
            desc = not query.desc if current else key == "created"
            head["href"] = "?" + urlencode({**base, "sort": key, **({"dir": "desc"} if desc else {})})
            head["aria_sort"] = ("descending" if query.desc else "ascending") if current else ""
        headers.append(head)
    return headers


def table_context(request: HttpRequest, endpoint: Endpoint) -> dict[str, Any]:
    """Everything templates/containers/_table.html needs for this request's query."""
    query = listing.Query.from_params(request.GET)
    context: dict[str, Any] = {"endpoint": endpoint, "query": query, "headers": _sort_headers(query),
                               "states": listing.STATES, "healths": listing.HEALTHS, "rows": [], "total": 0, "error": ""}
    try:
        all_rows = policy.visible(request.user, endpoint, "container", list_rows(endpoint), key=lambda r: r.id)
    except EngineError as exc:
        context["error"] = exc.message
        return context
    with_spec = set(ContainerSpec.objects.filter(endpoint=endpoint).values_list("container_id", flat=True))
    drifted = drift.load(endpoint.pk)  # snowflake marks, counted in the background (console/containers/drift.py)
    context["total"] = len(all_rows)
    now = timezone.now()
    context["rows"] = [{"row": r, "url": detail_url(endpoint.pk, r.short_id), "has_spec": r.id in with_spec,
                        "created_ago": _ago(r.created, now), "drift": drifted.get(r.id) if r.state == "running" else None}
                       for r in listing.select(all_rows, query)]
    context["filtered"] = bool(query.q or query.state or query.health)
    return context


def _ago(when: datetime, now: datetime) -> str:
    """ "5 minutes ago", or "just now" within the first minute."""
    text = timesince(when, now, depth=1)
    return "just now" if text.startswith("0\xa0") or text.startswith("0 ") else f"{text} ago"


@requires("container.view")
def container_list(request: HttpRequest, eid: int) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=eid)
    if request.session.get("endpoint_id") != endpoint.pk:
        request.session["endpoint_id"] = endpoint.pk
    context = table_context(request, endpoint)
    context["actions"] = [("start", "Start"), ("stop", "Stop"), ("kill", "Kill"), ("restart", "Restart"),
                          ("pause", "Pause"), ("unpause", "Resume")]
    return render(request, "containers/list.html", context)


@requires("container.view")
def container_rows(request: HttpRequest, eid: int) -> HttpResponse:
    """The table alone, for live refreshes and the filter form."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    response = render(request, "containers/_table.html", table_context(request, endpoint))
    if request.headers.get("HX-Request"):
        page = reverse("containers:list", kwargs={"eid": eid})
        response["HX-Replace-Url"] = page + (f"?{request.GET.urlencode()}" if request.GET else "")
    return response


@requires("container.view")  # each container is checked against its action below
@require_POST
def bulk_action(request: HttpRequest, eid: int) -> HttpResponse:
    """POST ids=…&action=…[&force=on]: check each container against the person's rights, then act on the
    allowed ones in a background job (console/containers/jobs.py; every outcome audited there).

    htmx gets templates/containers/_bulk_results.html: the refusals at once, and the job's live panel,
    which lists the engine's refusals when it ends and refreshes the table. Without htmx: the job's page.
    """
    endpoint = get_object_or_404(Endpoint, pk=eid)
    action, ids = request.POST.get("action", ""), list(dict.fromkeys(i for i in request.POST.getlist("ids") if i))[:1000]
    if action not in ACTIONS:
        return HttpResponseBadRequest("unknown action")
    force = action == "remove" and request.POST.get("force") == "on"
    asked = bool(ids)
    ids, refused = _allowed(request, endpoint, ids, action)
    job = start_bulk(request, endpoint, action, ids, _names(endpoint), force) if ids else None
    if request.headers.get("HX-Request"):
        return render(request, "containers/_bulk_results.html",
                      {"job": job, "failed": refused, "nothing": not asked, "verb": ACTION_VERBS[action]})
    if not asked:
        messages.info(request, "Select containers first.")
    for r in refused:
        messages.error(request, f"{r.name}: {r.message}")
    if job is not None:
        return redirect(job.get_absolute_url())
    return redirect(reverse("containers:list", kwargs={"eid": eid}) + _back_query(request))


@requires("container.prune")
@require_POST
def container_prune(request: HttpRequest, eid: int) -> HttpResponse:
    """Start a background removal of every stopped container (console/containers/prunes.py)."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    return prunes.started(request, prunes.start_prune("containers", request, endpoint))


def _allowed(request: HttpRequest, endpoint: Endpoint, ids: list[str], action: str) -> tuple[list[str], list[ActionResult]]:
    """The ids the user may act on, and a refusal (audited) for each of the others."""
    allowed, refused = [], []
    for cid in ids:
        if policy.can(request.user, endpoint, f"container.{action}", cid):
            allowed.append(cid)
        else:
            record_denied(request, f"not allowed: container.{action} on {cid[:12]}", endpoint)
            refused.append(ActionResult(cid, cid[:12], False, "you are not allowed to do this"))
    return allowed, refused


def _names(endpoint: Endpoint) -> dict[str, str]:
    """Container names by ID, for the results and the activity log (IDs stand in when the engine is away)."""
    try:
        return {r.id: r.name for r in list_rows(endpoint)}
    except EngineError:
        return {}


def _back_query(request: HttpRequest) -> str:
    back = request.POST.get("query", "")
    return f"?{back}" if back and not back.startswith("?") else back
