"""Images pages, under /endpoints/<eid>/images/: the list, one image, update checks and the export download.

The list's table is templates/images/_table.html, rendered in the page and alone by `image_rows` (the
search form swaps it in; while update checks run, it polls itself). Rendering never waits for a
registry: `updates.request_checks` only queues checks (console/images/updates.py). Changes and jobs
are in console/images/actions.py.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from console.accounts.access import requires
from console.accounts.policy import visible
from console.audit.log import record
from console.audit.models import Activity
from console.containers import prunes
from console.endpoints.client import EngineError
from console.endpoints.models import Endpoint
from console.images import listing, operations, updates
from console.images.forms import PushForm, RemoveForm, TagForm
from console.images.models import TagCheck
from console.jobs.models import Job

SORTS = (("tag", "Name"), ("size", "Size"), ("created", "Created"))


def endpoint_of(request: HttpRequest, eid: int) -> Endpoint:
    endpoint = get_object_or_404(Endpoint, pk=eid)
    if request.session.get("endpoint_id") != endpoint.pk:
        request.session["endpoint_id"] = endpoint.pk
    return endpoint


def table_context(request: HttpRequest, endpoint: Endpoint) -> dict[str, Any]:
    """What templates/images/_table.html needs: rows (with update markers), totals, the query, errors."""
    q = request.GET.get("q", "").strip()[:200]
    sort = request.GET.get("sort", "tag") if request.GET.get("sort") in dict(SORTS) else "tag"
    desc, dangling = request.GET.get("dir") == "desc", request.GET.get("untagged", "1") == "1"
    context: dict[str, Any] = {"endpoint": endpoint, "q": q, "sort": sort, "desc": desc, "untagged": dangling,
                               "sorts": SORTS, "rows": [], "error": "", "total": 0, "total_size": 0}
    try:
        all_rows = visible(request.user, endpoint, "image", operations.list_rows(endpoint), key=lambda r: r.id)
    except EngineError as exc:
        context["error"] = exc.message
        return context
    marks = updates.markers(endpoint, all_rows)
    if updates.request_checks(endpoint, list(marks)):
        marks = updates.markers(endpoint, all_rows)
    shown = listing.select(all_rows, q, sort, desc, dangling)
    context.update(total=len(all_rows), total_size=sum(r.size for r in all_rows), filtered=bool(q) or not dangling,
                   rows=[{"row": r, "tags": [(t, marks.get(t)) for t in r.tags],
                          "url": reverse("images:detail", kwargs={"eid": endpoint.pk, "image_id": r.short_id})}
                         for r in shown],
                   checking=any(m.state == "checking" for m in marks.values()),
                   updates=sum(1 for m in marks.values() if m.state == "update"))
    return context


@requires("image.view")
def image_list(request: HttpRequest, eid: int) -> HttpResponse:
    endpoint = endpoint_of(request, eid)
    context = table_context(request, endpoint)
    context["active_jobs"] = Job.objects.filter(endpoint=endpoint, kind__startswith="image.", state__in=Job.ACTIVE)[:5]
    return render(request, "images/list.html", context)


@requires("image.view")
def image_rows(request: HttpRequest, eid: int) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=eid)
    return render(request, "images/_table.html", table_context(request, endpoint))


@requires("image.pull")
@require_POST
def check_updates(request: HttpRequest, eid: int) -> HttpResponse:
    """Check every pulled tag against its registry now (in the background)."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    try:
        tags = list(updates.checkable(operations.list_rows(endpoint)))
    except EngineError as exc:
        messages.error(request, exc.message)
        return redirect("images:list", eid=eid)
    TagCheck.objects.filter(endpoint=endpoint).exclude(tag__in=tags).delete()
    queued = updates.request_checks(endpoint, tags, force=True)
    record(request, "image.check_updates", endpoint.name, Activity.SUCCESS, "", endpoint, tags=len(queued))
    if queued:
        messages.info(request, f"Checking {len(queued)} tag{'s' if len(queued) != 1 else ''} against the registries…")
    elif tags:
        messages.info(request, "A check is already running.")
    else:
        messages.info(request, "No image here was pulled from a registry: there is nothing to check.")
    return redirect("images:list", eid=eid)


@requires("image.prune")
@require_POST
def image_prune(request: HttpRequest, eid: int) -> HttpResponse:
    """Start a background prune of dangling images (all=on: every image no container uses); console/containers/prunes.py."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    job = prunes.start_prune("images", request, endpoint, all_images=request.POST.get("all") == "on")
    return prunes.started(request, job)


@requires("image.view", resource="image_id")
def image_detail(request: HttpRequest, eid: int, image_id: str) -> HttpResponse:
    endpoint = endpoint_of(request, eid)
    try:
        found = operations.detail(endpoint, image_id)
    except EngineError as exc:
        return render(request, "images/detail.html", {"endpoint": endpoint, "image_id": image_id, "error": exc.message},
                      status=502)
    if found is None:
        raise Http404("no such image on this endpoint")
    return render(request, "images/detail.html", detail_context(endpoint, found))


def detail_context(endpoint: Endpoint, found: operations.ImageDetail, **forms: Any) -> dict[str, Any]:
    row, config = found.row, found.inspect.get("Config") or {}
    marks = updates.markers(endpoint, [row])
    updates.request_checks(endpoint, list(marks))
    return {
        "endpoint": endpoint, "image": found, "row": row, "config": config, "inspect": found.inspect,
        "tags": [(t, marks.get(t)) for t in row.tags], "history": found.history,
        "env": config.get("Env") or [], "labels": sorted((config.get("Labels") or {}).items()),
        "ports": sorted((config.get("ExposedPorts") or {}).keys()),
        "tag_form": forms.get("tag_form") or TagForm(), "push_form": forms.get("push_form") or PushForm(tags=row.tags),
        "remove_form": forms.get("remove_form") or RemoveForm(initial={"ref": row.id}),
    }


@requires("image.export", resource="image_id")
def image_export(request: HttpRequest, eid: int, image_id: str) -> HttpResponse:
    """`docker save` of the image (by ?ref=<tag> to keep the tag in the archive), streamed to the browser."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    ref = request.GET.get("ref") or image_id
    chunks = operations.export_chunks(endpoint, ref)
    try:
        next(chunks)  # the engine checks the name before anything is sent
    except EngineError as exc:
        record(request, "image.export", ref, Activity.FAILURE, exc.message, endpoint)
        messages.error(request, exc.message)
        return redirect("images:list", eid=eid)
    record(request, "image.export", ref, Activity.SUCCESS, "", endpoint)
    body = operations.aiterate(chunks) if isinstance(request, ASGIRequest) else chunks
    response = StreamingHttpResponse(body, content_type="application/x-tar")
    response["Content-Disposition"] = f'attachment; filename="{operations.export_filename(ref)}"'
    return response
