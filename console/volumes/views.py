"""Volume pages: the list (sizes load after it shows), create, a volume's page, remove, prune (a background job).

Files (browse, download), export and import are in file_views.py. Every change
goes through console/volumes/service.py, which audits it; the engine's refusals
are shown in its own words (a volume in use cannot be removed: the page says
which containers use it).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.views.decorators.http import require_GET, require_POST

from console.accounts.access import requires
from console.accounts.policy import visible
from console.endpoints.client import EngineError
from console.endpoints.models import Endpoint
from console.containers import prunes
from console.volumes import jobs, service
from console.volumes.forms import ImportForm, VolumeForm


def _endpoint(request: HttpRequest, eid: int) -> Endpoint:
    endpoint = get_object_or_404(Endpoint, pk=eid)
    if request.session.get("endpoint_id") != endpoint.pk:
        request.session["endpoint_id"] = endpoint.pk
    return endpoint


def _filter(volumes: list[service.VolumeRow], q: str, usage: str) -> list[service.VolumeRow]:
    q = q.lower()
    return [v for v in volumes
            if (not q or q in v.name.lower() or any(q in f"{k}={val}".lower() for k, val in v.labels.items()))
            and (usage != "used" or v.in_use) and (usage != "unused" or not v.in_use)]


@requires("volume.view")
@require_GET
def volume_list(request: HttpRequest, eid: int) -> HttpResponse:
    endpoint = _endpoint(request, eid)
    q, usage = (request.GET.get("q") or "").strip()[:200], request.GET.get("usage", "")
    context: dict[str, Any] = {"endpoint": endpoint, "q": q, "usage": usage if usage in ("used", "unused") else "",
                               "volumes": [], "total": 0, "error": "", "import_form": ImportForm()}
    try:
        volumes = visible(request.user, endpoint, "volume", service.list_volumes(endpoint), key=lambda v: v.name)
    except EngineError as exc:
        context["error"] = exc.message
    else:
        context.update(total=len(volumes), volumes=_filter(volumes, q, context["usage"]),
                       unused=sum(1 for v in volumes if not v.in_use))
    return render(request, "volumes/list.html", context)


@requires("volume.view")
@require_GET
def volume_sizes(request: HttpRequest, eid: int) -> JsonResponse:
    """{"sizes": {name: {"bytes": n, "text": "1.2 MB"}}} from the engine's disk usage, or {"error": "..."} (502)."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    try:
        measured = service.sizes(endpoint)
    except EngineError as exc:
        return JsonResponse({"error": exc.message}, status=502)
    return JsonResponse({"sizes": {name: {"bytes": n, "text": filesizeformat(n) if n >= 0 else "unknown"}
                                   for name, n in measured.items()}})


@requires("volume.create")
def volume_create(request: HttpRequest, eid: int) -> HttpResponse:
    endpoint = _endpoint(request, eid)
    form = VolumeForm(request.POST or None, endpoint=endpoint)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            name = service.create_volume(request, endpoint, data["name"], data["driver"], data["options"], data["labels"])
        except EngineError as exc:
            form.add_engine_error(exc.message)
        else:
            messages.success(request, f"Created volume {name}.")
            return redirect("volumes:detail", eid=eid, name=name)
    status = 400 if form.is_bound else 200
    return render(request, "volumes/create.html", {"endpoint": endpoint, "form": form}, status=status)


def load_volume(endpoint: Endpoint, name: str) -> service.VolumeRow:
    """The volume, or Http404 when the engine has none by that name (EngineError passes through)."""
    try:
        return service.get_volume(endpoint, name)
    except EngineError as exc:
        if exc.status == 404:
            raise Http404(f"No volume {name} on {endpoint.name}.") from None
        raise


@requires("volume.view", resource="name")
@require_GET
def volume_detail(request: HttpRequest, eid: int, name: str) -> HttpResponse:
    endpoint = _endpoint(request, eid)
    try:
        volume = load_volume(endpoint, name)
    except EngineError as exc:
        return render(request, "volumes/detail.html", {"endpoint": endpoint, "name": name, "error": exc.message}, status=502)
    context = {"endpoint": endpoint, "name": name, "volume": volume, "import_form": ImportForm(initial={"name": name}),
               "labels": sorted(volume.labels.items()), "options": sorted(volume.options.items())}
    return render(request, "volumes/detail.html", context)


@requires("volume.remove", resource="name")
@require_POST
def volume_remove(request: HttpRequest, eid: int, name: str) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=eid)
    try:
        service.remove_volume(request, endpoint, name)
    except EngineError as exc:
        messages.error(request, _in_use_message(endpoint, name, exc))
        return redirect("volumes:detail", eid=eid, name=name) if exc.status != 404 else redirect("volumes:list", eid=eid)
    messages.success(request, f"Removed volume {name}.")
    return redirect("volumes:list", eid=eid)


def _in_use_message(endpoint: Endpoint, name: str, exc: EngineError) -> str:
    """The engine's refusal; for a volume in use, which containers hold it (remove or recreate them first)."""
    if exc.status != 409:
        return f"Could not remove {name}: {exc.message}"
    try:
        users = service.get_volume(endpoint, name).used_by
    except EngineError:
        users = ()
    holders = ", ".join(u.name for u in users)
    return (f"{name} is in use{f' by {holders}' if holders else ''}: remove those containers first. "
            f"The engine said: {exc.message}")


@requires("volume.prune")
@require_POST
def volume_prune(request: HttpRequest, eid: int) -> HttpResponse:
    """Start a background prune of the unused volumes. htmx gets the job's live panel; a plain post, its page."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    return prunes.started(request, jobs.start_prune(request, endpoint))
