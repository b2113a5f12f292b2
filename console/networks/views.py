"""Network pages: list, create, a network's page (attached containers, connect, disconnect), remove, prune.

Every change goes through console/networks/service.py, which audits it. A
network with containers cannot be removed: the page says which, before asking
the engine, and shows the engine's words when it refuses anyway.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from console.accounts.access import record_denied, requires
from console.accounts.policy import can, visible
from console.audit.log import record
from console.audit.models import Activity
from console.containers import prunes
from console.containers.operations import list_rows
from console.endpoints.client import EngineError
from console.endpoints.models import Endpoint
from console.networks import service
from console.networks.forms import ConnectForm, NetworkForm


def _endpoint(request: HttpRequest, eid: int) -> Endpoint:
    endpoint = get_object_or_404(Endpoint, pk=eid)
    if request.session.get("endpoint_id") != endpoint.pk:
        request.session["endpoint_id"] = endpoint.pk
    return endpoint


@requires("network.view")
@require_GET
def network_list(request: HttpRequest, eid: int) -> HttpResponse:
    endpoint = _endpoint(request, eid)
    q = (request.GET.get("q") or "").strip()[:200].lower()
    context: dict[str, Any] = {"endpoint": endpoint, "q": q, "networks": [], "total": 0, "error": ""}
    try:
        networks = visible(request.user, endpoint, "network", service.list_networks(endpoint), key=lambda n: n.id)
    except EngineError as exc:
        context["error"] = exc.message
    else:
        context["total"] = len(networks)
        context["unused"] = sum(1 for n in networks if not n.builtin and not n.containers)
        context["networks"] = [n for n in networks if not q or q in n.name.lower() or n.id.startswith(q)
                               or q in n.subnet or any(q in f"{k}={v}".lower() for k, v in n.labels.items())]
    return render(request, "networks/list.html", context)


@requires("network.create")
def network_create(request: HttpRequest, eid: int) -> HttpResponse:
    endpoint = _endpoint(request, eid)
    taken, engine_error = set(), ""
    try:
        taken = service.names(endpoint)
    except EngineError as exc:
        engine_error = exc.message
    form = NetworkForm(request.POST or None, taken=taken)
    if request.method == "POST" and form.is_valid():
        try:
            nid = service.create_network(request, endpoint, form.spec())
        except EngineError as exc:
            form.add_engine_error(exc.message)
        else:
            messages.success(request, f"Created network {form.cleaned_data['name']}.")
            return redirect("networks:detail", eid=eid, nid=nid[:12])
    return render(request, "networks/create.html", {"endpoint": endpoint, "form": form, "engine_error": engine_error},
                  status=400 if form.is_bound else 200)


def _load(endpoint: Endpoint, nid: str) -> tuple[service.NetworkRow, list[service.Attached]]:
    try:
        return service.get_network(endpoint, nid)
    except EngineError as exc:
        if exc.status == 404:
            raise Http404(f"No network {nid} on {endpoint.name}.") from None
        raise


def _connect_choices(endpoint: Endpoint, on_it: list[service.Attached], user: Any) -> list[tuple[str, str]]:
    """Containers `user` may see that are not yet on the network, for the picker (name → "name (state)")."""
    present = {a.id for a in on_it}
    try:
        rows = list_rows(endpoint)
        rows = visible(user, endpoint, "container", rows, key=lambda r: r.id)
    except EngineError:
        return []
    return [(r.name, f"{r.name} ({r.state})") for r in sorted(rows, key=lambda r: r.name) if r.id not in present]


def _render_detail(request: HttpRequest, endpoint: Endpoint, nid: str, connect_form: ConnectForm | None = None,
                   status: int = 200) -> HttpResponse:
    try:
        net, on_it = _load(endpoint, nid)
    except EngineError as exc:
        return render(request, "networks/detail.html", {"endpoint": endpoint, "nid": nid, "error": exc.message}, status=502)
    if connect_form is None:
        connect_form = ConnectForm(choices=_connect_choices(endpoint, on_it, request.user), subnet=net.subnet)
    context = {"endpoint": endpoint, "nid": nid, "net": net, "attached": on_it, "connect_form": connect_form,
               "can_connect": not net.builtin or net.name == "bridge", "labels": sorted(net.labels.items()),
               "options": sorted(net.options.items())}
    return render(request, "networks/detail.html", context, status=status)


@requires("network.view", resource="nid")
@require_GET
def network_detail(request: HttpRequest, eid: int, nid: str) -> HttpResponse:
    return _render_detail(request, _endpoint(request, eid), nid)


@requires("network.connect", resource="nid")
@require_POST
def network_connect(request: HttpRequest, eid: int, nid: str) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=eid)
    net, on_it = _load(endpoint, nid)
    form = ConnectForm(request.POST, choices=_connect_choices(endpoint, on_it, request.user), subnet=net.subnet)
    if form.is_valid():
        d = form.cleaned_data
        try:
            service.connect(request, endpoint, net.id, net.name, d["container"], d["aliases"], d["ipv4"])
        except EngineError as exc:
            form.add_engine_error(exc.message)
        else:
            messages.success(request, f"Connected {d['container']} to {net.name}.")
            return redirect("networks:detail", eid=eid, nid=nid)
    return _render_detail(request, endpoint, nid, form, status=400)


@requires("network.disconnect", resource="nid")
@require_POST
def network_disconnect(request: HttpRequest, eid: int, nid: str) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=eid)
    net, on_it = _load(endpoint, nid)
    container = request.POST.get("container", "")
    name = next((a.name for a in on_it if a.id == container or a.name == container), container)
    held = next((a.id for a in on_it if a.id == container or a.name == container), container)
    if not can(request.user, endpoint, "container.edit", held):  # the container must be theirs too
        record_denied(request, f"not allowed: container.edit on {name}", endpoint)
        raise PermissionDenied("not allowed: container.edit")
    try:
        service.disconnect(request, endpoint, net.id, net.name, container)
    except EngineError as exc:
        messages.error(request, f"Could not disconnect {name} from {net.name}: {exc.message}")
    else:
        messages.success(request, f"Disconnected {name} from {net.name}.")
    return redirect("networks:detail", eid=eid, nid=nid)


@requires("network.remove", resource="nid")
@require_POST
def network_remove(request: HttpRequest, eid: int, nid: str) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=eid)
    net, on_it = _load(endpoint, nid)
    if on_it:
        holders = ", ".join(a.name for a in on_it)
        message = f"{net.name} still has containers attached ({holders}): disconnect or remove them first."
        record(request, "network.remove", net.name, Activity.FAILURE, message, endpoint, id=net.id)
        messages.error(request, message)
        return redirect("networks:detail", eid=eid, nid=nid)
    try:
        service.remove_network(request, endpoint, net.id, net.name)
    except EngineError as exc:
        messages.error(request, f"Could not remove {net.name}: {exc.message}")
        return redirect("networks:detail", eid=eid, nid=nid)
    messages.success(request, f"Removed network {net.name}.")
    return redirect("networks:list", eid=eid)


@requires("network.prune")
@require_POST
def network_prune(request: HttpRequest, eid: int) -> HttpResponse:
    """Start a background prune of the unused networks (console/containers/prunes.py): its live panel or its page."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    return prunes.started(request, prunes.start_prune("networks", request, endpoint))
