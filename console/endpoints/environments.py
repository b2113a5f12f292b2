"""Environments: named groups of endpoints — create, rename, remove, and move an endpoint between them.

Removing an environment never removes its endpoints: they become ungrouped
(`on_delete=SET_NULL`). `grouped()` is the one place that orders endpoints into
their groups, for the endpoints list and the overview alike. Every change is
recorded in the activity log, whether it worked or not.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from console.accounts.access import admin_required
from console.audit.log import record
from console.audit.models import Activity
from console.endpoints.environment_forms import EnvironmentForm, MoveForm
from console.endpoints.models import Endpoint, Environment


@dataclass(frozen=True)
class Group:
    """One environment's endpoints; `environment` None is the group of endpoints in none."""

    environment: Environment | None
    endpoints: list[Endpoint]

    @property
    def key(self) -> str:
        return f"env-{self.environment.pk}" if self.environment else "env-none"


def grouped(endpoints: list[Endpoint] | None = None) -> list[Group]:
    """Every environment (empty ones too) with its endpoints, by name; then the ungrouped endpoints, if any."""
    endpoints = list(Endpoint.objects.select_related("environment")) if endpoints is None else endpoints
    groups = [Group(env, [e for e in endpoints if e.environment_id == env.pk]) for env in Environment.objects.all()]
    loose = [e for e in endpoints if e.environment_id is None]
    if loose or not groups:
        groups.append(Group(None, loose))
    return groups


@admin_required
def environment_add(request: HttpRequest) -> HttpResponse:
    return _edit(request, None)


@admin_required
def environment_edit(request: HttpRequest, env_id: int) -> HttpResponse:
    return _edit(request, get_object_or_404(Environment, pk=env_id))


def _edit(request: HttpRequest, environment: Environment | None) -> HttpResponse:
    form = EnvironmentForm(request.POST or None, instance=environment)
    action = "environment.update" if environment else "environment.create"
    if request.method == "POST":
        if form.is_valid():
            changed = list(form.changed_data)
            saved = form.save()
            record(request, action, saved.name, Activity.SUCCESS, "", None, changed=changed)
            messages.success(request, f"Environment {saved.name} {'saved' if environment else 'created'}.")
            return redirect("endpoint-list")
        errors = {name: " ".join(texts) for name, texts in form.errors.items()}
        target = environment.name if environment else (request.POST.get("name") or "")
        record(request, action, target, Activity.FAILURE, "invalid input: " + ", ".join(sorted(errors)), None, errors=errors)
    context = {"form": form, "environment": environment}
    return render(request, "environments/form.html", context, status=400 if form.is_bound and form.errors else 200)


@admin_required
def environment_delete(request: HttpRequest, env_id: int) -> HttpResponse:
    """GET asks for confirmation; POST removes the environment, leaving its endpoints ungrouped."""
    environment = get_object_or_404(Environment, pk=env_id)
    members = list(environment.endpoints.all())
    if request.method != "POST":
        return render(request, "environments/confirm_delete.html", {"environment": environment, "members": members})
    name = environment.name
    environment.delete()
    record(request, "environment.delete", name, Activity.SUCCESS, "", None, endpoints=[e.name for e in members])
    messages.success(request, f"Environment {name} removed; its endpoints are kept, in no environment.")
    return redirect("endpoint-list")


@admin_required
def endpoint_move(request: HttpRequest, eid: int) -> HttpResponse:
    """POST: put the endpoint in another environment (or none). htmx callers get a page refresh."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    if request.method != "POST":
        return redirect("endpoint-list")
    form = MoveForm(request.POST)
    if not form.is_valid():
        message = "There is no such environment (it may have just been removed)."
        record(request, "endpoint.move", endpoint.name, Activity.FAILURE, message, endpoint)
        messages.error(request, message)
    else:
        before = endpoint.environment.name if endpoint.environment else ""
        endpoint.environment = form.cleaned_data["environment"]
        endpoint.save(update_fields=["environment"])
        after = endpoint.environment.name if endpoint.environment else ""
        record(request, "endpoint.move", endpoint.name, Activity.SUCCESS, "", endpoint, **{"from": before, "to": after})
        messages.success(request, f"Endpoint {endpoint.name} moved to {after or 'no environment'}.")
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return redirect("endpoint-list")
