"""Adding, editing, testing and removing endpoints (pages; the REST API is console/api/endpoints.py).

Every change is recorded in the activity log, whether it worked or not. "Test
connection" is the form's second submit button (action=test): it validates the
form and probes the engine it describes without saving anything. With htmx it
answers with the result alone; without, the whole form comes back with the result.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from console.accounts.access import admin_required
from console.audit.log import record
from console.audit.models import Activity
from console.endpoints.forms import EndpointForm
from console.endpoints.health import EndpointStatus, probe
from console.endpoints.models import Endpoint

LOCAL_IS_PERMANENT = "The local endpoint is the engine on this host; it cannot be removed."


@admin_required
def endpoint_add(request: HttpRequest) -> HttpResponse:
    return _edit(request, None)


@admin_required
def endpoint_edit(request: HttpRequest, eid: int) -> HttpResponse:
    return _edit(request, get_object_or_404(Endpoint, pk=eid))


def _edit(request: HttpRequest, endpoint: Endpoint | None) -> HttpResponse:
    """The add/edit form: GET shows it, POST tests (action=test) or saves it."""
    form = EndpointForm(request.POST or None, request.FILES or None, instance=endpoint)
    tested: EndpointStatus | None = None
    if request.method == "POST":
        if request.POST.get("action") == "test":
            tested = probe(form.instance) if form.is_valid() else None
            if request.headers.get("HX-Request"):
                return render(request, "endpoints/_test_result.html", {"form": form, "tested": tested, "endpoint": endpoint})
        elif form.is_valid():
            return _save(request, form, endpoint)
        else:
            _record_invalid(request, form, endpoint)
        form.echo_pem()
    context = {"form": form, "endpoint": endpoint, "tested": tested}
    return render(request, "endpoints/form.html", context, status=400 if form.is_bound and form.errors else 200)


def _save(request: HttpRequest, form: EndpointForm, endpoint: Endpoint | None) -> HttpResponse:
    action = "endpoint.update" if endpoint else "endpoint.create"
    changed = form.changed_summary()
    saved = form.save()
    record(request, action, saved.name, Activity.SUCCESS, "", saved, url=saved.url, tls=saved.uses_tls, changed=changed)
    verb = "saved" if endpoint else "added"
    messages.success(request, f"Endpoint {saved.name} {verb}.")
    return redirect("endpoint-list")


def _record_invalid(request: HttpRequest, form: EndpointForm, endpoint: Endpoint | None) -> None:
    action = "endpoint.update" if endpoint else "endpoint.create"
    target = endpoint.name if endpoint else (request.POST.get("name") or "")
    fields = sorted(form.errors)
    errors = {name: " ".join(texts) for name, texts in form.errors.items()}
    record(request, action, target, Activity.FAILURE, "invalid input: " + ", ".join(fields), endpoint,
           fields=fields, errors=errors)


@admin_required
def endpoint_delete(request: HttpRequest, eid: int) -> HttpResponse:
    """GET asks for confirmation; POST removes the endpoint (never the local one)."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    if request.method != "POST":
        return render(request, "endpoints/confirm_delete.html", {"endpoint": endpoint, "permanent": endpoint.is_local})
    if endpoint.is_local:
        record(request, "endpoint.delete", endpoint.name, Activity.FAILURE, LOCAL_IS_PERMANENT, endpoint)
        messages.error(request, LOCAL_IS_PERMANENT)
        return redirect("endpoint-list")
    name = endpoint.name
    endpoint.delete()
    record(request, "endpoint.delete", name, Activity.SUCCESS, "", name)
    if request.session.get("endpoint_id") == eid:
        request.session.pop("endpoint_id", None)
    messages.success(request, f"Endpoint {name} removed.")
    return redirect("endpoint-list")
