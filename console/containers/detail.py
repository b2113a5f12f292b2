"""A container's page: summary, actions, rename, and the parts its script refreshes live.

`container_page` renders the whole page; `container_parts` renders only the
parts that change with the container's state (head, actions, overview, health,
inspect JSON) — the page's script fetches it when the endpoint's events socket
reports a change of this container, and action/rename answers to htmx carry the
same parts as out-of-band swaps. Logs, stats and the terminal are websockets
(console/containers/consumers.py); their tabs are static markup driven by
static/js/container-*.js.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_POST

from console.accounts.access import requires
from console.accounts.ownership import card_context
from console.containers.detail_ops import PAGE_ACTIONS, RenameError, inspect_container, rename_container
from console.containers.operations import ACTION_VERBS, run_actions
from console.containers.summary import summarize
from console.endpoints.client import EngineError
from console.endpoints.models import Endpoint
from console.metrics.models import HISTORY, SAMPLE_INTERVAL

# Buttons offered for each state; the page shows the others disabled-free (hidden), never greyed out mysteries.
STATE_ACTIONS = {
    "running": ("stop", "restart", "pause", "kill"),
    "restarting": ("stop", "kill"),
    "paused": ("resume", "stop", "kill"),
    "created": ("start",),
    "exited": ("start",),
    "dead": (),
}


VENDOR_SCRIPTS = {  # loaded by the page when a tab first needs them
    "uplot": "vendor/uplot/uPlot.iife.min.js", "uplot_css": "vendor/uplot/uPlot.min.css",
    "xterm": "vendor/xterm/xterm.js", "xterm_fit": "vendor/xterm/addon-fit.js", "xterm_css": "vendor/xterm/xterm.css",
}


def _optional_url(name: str, eid: int, cid: str) -> str:
    """A URL of the create form's views (duplicate, edit), or "" while they do not exist."""
    try:
        return reverse(name, kwargs={"eid": eid, "cid": cid})
    except NoReverseMatch:
        return ""


def _load(endpoint: Endpoint, cid: str) -> dict[str, Any]:
    """Inspect JSON, or Http404 for a container the engine does not know. EngineError passes through."""
    try:
        return inspect_container(endpoint, cid)
    except EngineError as exc:
        if exc.status == 404:
            raise Http404(f"No container {cid} on {endpoint.name}.") from None
        raise


def _context(request: HttpRequest, endpoint: Endpoint, data: dict[str, Any]) -> dict[str, Any]:
    summary = summarize(data, endpoint.url)
    base = f"/ws/endpoints/{endpoint.pk}/containers/{summary.id}"
    streams = {
        "logs": f"{base}/logs/", "stats": f"{base}/stats/", "exec": f"{base}/exec/",
        "events": f"/ws/endpoints/{endpoint.pk}/events/",
        "logs_download": reverse("api-container-logs", kwargs={"eid": endpoint.pk, "cid": summary.id}),
        "stats_history": reverse("api-container-stats-history", kwargs={"eid": endpoint.pk, "cid": summary.id}),
    }
    # URLs name the container by ID: a name in the page's URL may change (rename) while the page is open.
    parts_url = reverse("containers:detail-parts", kwargs={"eid": endpoint.pk, "cid": summary.id})
    return {
        "endpoint": endpoint, "cid": summary.id, "c": summary, "inspect_json": json.dumps(data, indent=2, sort_keys=True),
        "actions": STATE_ACTIONS.get(summary.status, ()),
        "duplicate_url": _optional_url("containers:duplicate", endpoint.pk, summary.id),
        "edit_url": _optional_url("containers:edit", endpoint.pk, summary.id),
        "streams": streams, "history_minutes": HISTORY // 60, "sample_interval": SAMPLE_INTERVAL,
        "value": summary.name,
        **card_context(request, endpoint, "container", summary.id, summary.name),
        "page_config": {
            "id": summary.id, "name": summary.name, "status": summary.status, "tty": summary.tty,
            "memLimit": int((data.get("HostConfig") or {}).get("Memory") or 0), "streams": streams,
            "partsUrl": parts_url, "historySeconds": HISTORY,
            "vendor": {key: static(path) for key, path in VENDOR_SCRIPTS.items()},
        },
    }


def _engine_down(request: HttpRequest, endpoint: Endpoint, cid: str, exc: EngineError) -> HttpResponse:
    return render(request, "containers/detail_unreachable.html",
                  {"endpoint": endpoint, "cid": cid, "error": exc.message}, status=502)


@requires("container.view", resource="cid")
@require_GET
def container_page(request: HttpRequest, eid: int, cid: str) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=eid)
    request.session["endpoint_id"] = endpoint.pk
    try:
        data = _load(endpoint, cid)
    except EngineError as exc:
        return _engine_down(request, endpoint, cid, exc)
    return render(request, "containers/detail.html", _context(request, endpoint, data))


@requires("container.view", resource="cid")
@require_GET
def container_parts(request: HttpRequest, eid: int, cid: str) -> HttpResponse:
    """The live parts of the page (see the module doc); 404 once the container is gone."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    try:
        data = _load(endpoint, cid)
    except EngineError as exc:
        return HttpResponse(exc.message, status=502, content_type="text/plain; charset=utf-8")
    return render(request, "containers/detail_parts.html", _context(request, endpoint, data))


def _answer(request: HttpRequest, endpoint: Endpoint, cid: str) -> HttpResponse:
    """After a change: htmx gets the refreshed parts (and the toasts), a plain form post a redirect."""
    if not request.headers.get("HX-Request"):
        return redirect("containers:detail", eid=endpoint.pk, cid=cid)
    try:
        data = _load(endpoint, cid)
    except (EngineError, Http404):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("containers:detail", kwargs={"eid": endpoint.pk, "cid": cid})
        return response
    context = _context(request, endpoint, data) | {"oob": True}
    return render(request, "containers/detail_parts.html", context)


@requires("container.{action}", resource="cid")
@require_POST
def container_action(request: HttpRequest, eid: int, cid: str, action: str) -> HttpResponse:
    """Start, stop, restart, kill, pause, resume or remove the container (audited by run_actions)."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    if action not in PAGE_ACTIONS:
        raise Http404(f"no action {action!r}")
    try:
        data = _load(endpoint, cid)
    except EngineError as exc:
        return _engine_down(request, endpoint, cid, exc)
    name = data["Name"].lstrip("/")
    operation = PAGE_ACTIONS[action]
    [result] = run_actions(request, endpoint, [data["Id"]], operation, force=operation == "remove",
                           names={data["Id"]: name})
    if not result.ok:
        messages.error(request, f"Could not {action} {name}: {result.message}")
    elif operation == "remove":
        messages.success(request, f"Removed {name}.")
        target = reverse("containers:list", kwargs={"eid": endpoint.pk})
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return redirect(target)
    else:
        messages.success(request, f"{ACTION_VERBS[operation]} {name}.")
    return _answer(request, endpoint, cid)


@requires("container.rename", resource="cid")
@require_POST
def container_rename(request: HttpRequest, eid: int, cid: str) -> HttpResponse:
    """Rename from the page's form; an error keeps the form open with the message under the field."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    wanted = request.POST.get("name", "")
    try:
        name = rename_container(request, endpoint, cid, wanted)
    except RenameError as exc:
        if request.headers.get("HX-Request"):
            return render(request, "containers/detail_rename.html",
                          {"endpoint": endpoint, "cid": cid, "value": wanted, "error": exc.message,
                           "rename_open": True})  # 200: htmx swaps only successful answers
        messages.error(request, f"Could not rename: {exc.message}")
        return redirect("containers:detail", eid=endpoint.pk, cid=cid)
    except EngineError as exc:
        return _engine_down(request, endpoint, cid, exc)
    messages.success(request, f"Renamed to {name}.")
    data_id = cid
    try:
        data_id = inspect_container(endpoint, name)["Id"]
    except EngineError:
        pass
    target = reverse("containers:detail", kwargs={"eid": endpoint.pk, "cid": data_id})
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return redirect(target)
