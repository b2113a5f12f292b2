"""The create form, and "Duplicate" / "Edit", which prefill it from the spec the console kept.

One template (templates/containers/create.html) serves all three. Create posts
to itself; Duplicate renders the form prefilled (under a new name) and posts to
Create; Edit posts to itself and, once the person ticks the confirmation,
recreates the container (console/containers/operations.py: stop, set aside,
create, start, remove the old one — or put it back if that fails).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from console.accounts.access import requires
from console.containers.specforms import SpecForms
from console.containers.models import ContainerSpec
from console.containers.operations import Created, EngineRefused, create_and_record
from console.containers.specs import duplicate_of
from console.endpoints.client import EngineError, endpoint_client
from console.endpoints.models import Endpoint


class ConfirmRecreate(forms.Form):
    confirm = forms.BooleanField(label="Yes, recreate the container",
                                 error_messages={"required": "Tick this to confirm: the container is stopped, removed and created again."})


def _network_names(endpoint: Endpoint) -> tuple[list[str], str]:
    """The engine's networks for the form's suggestions, and the error when the engine does not answer."""
    try:
        with endpoint_client(endpoint, timeout=5) as client:
            return sorted(n["Name"] for n in client.api.networks()), ""
    except EngineError as exc:
        return [], exc.message


def _open_sections(bundle: SpecForms) -> dict[str, bool]:
    """Which folded sections of the form start open: those with a value or an error in them."""
    form = bundle.form

    def filled(*names: str) -> bool:
        return any(form[n].value() not in (None, "", False) or form[n].errors for n in names)

    labels = bundle.rows["labels"]
    label_rows = labels.initial or (labels.is_bound and any(f["name"].value() for f in labels.forms))
    return {
        "limits": filled("memory", "cpus", "cpu_shares", "blkio_weight", "pids_limit", "privileged"),
        "health": filled("health_command", "health_interval", "health_timeout", "health_retries",
                         "health_start_period", "no_healthcheck"),
        "labels": bool(label_rows or bundle.section_errors.get("labels")),
    }


def _render(request: HttpRequest, endpoint: Endpoint, bundle: SpecForms, mode: str, action_url: str,
            kept: ContainerSpec | None = None, confirm: ConfirmRecreate | None = None, status: int = 200) -> HttpResponse:
    networks, engine_error = _network_names(endpoint)
    context: dict[str, Any] = {
        "endpoint": endpoint, "bundle": bundle, "form": bundle.form, "rows": bundle.rows, "mode": mode,
        "action_url": action_url, "kept": kept, "confirm": confirm, "networks": networks, "engine_error": engine_error,
        "cancel_url": reverse("containers:list", kwargs={"eid": endpoint.pk}), "open": _open_sections(bundle),
    }
    return render(request, "containers/create.html", context, status=status)


def _submit(request: HttpRequest, endpoint: Endpoint, bundle: SpecForms, replaces: str = "") -> Created | None:
    """Validate and create (or recreate); engine refusals land on the form. None when the form has errors now."""
    if not bundle.is_valid():
        return None
    try:
        return create_and_record(request, endpoint, bundle.spec(), replaces)
    except EngineRefused as exc:
        bundle.add_engine_error(exc.message)
    except EngineError as exc:
        bundle.form.add_error(None, exc.message)
    return None


def _done(request: HttpRequest, endpoint: Endpoint, created: Created, verb: str) -> HttpResponse:
    messages.success(request, f"{verb} and started {created.name}.")
    for warning in created.warnings:
        messages.warning(request, f"The engine warns: {warning}")
    return redirect("containers:list", eid=endpoint.pk)


@requires("container.create")
def create(request: HttpRequest, eid: int) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=eid)
    url = reverse("containers:create", kwargs={"eid": eid})
    if request.method != "POST":
        return _render(request, endpoint, SpecForms(), "create", url)
    bundle = SpecForms(data=request.POST)
    created = _submit(request, endpoint, bundle)
    if created:
        return _done(request, endpoint, created, "Created")
    return _render(request, endpoint, bundle, "create", url, status=400)


def _kept_or_redirect(request: HttpRequest, endpoint: Endpoint, cid: str) -> ContainerSpec | HttpResponse:
    kept = ContainerSpec.find(endpoint, cid)
    if kept is None:
        messages.error(request, f"Container {cid} was not created through the console, so there is no spec to start from.")
        return redirect("containers:list", eid=endpoint.pk)
    return kept


@requires("container.duplicate", resource="cid")
def duplicate(request: HttpRequest, eid: int, cid: str) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=eid)
    kept = _kept_or_redirect(request, endpoint, cid)
    if isinstance(kept, HttpResponse):
        return kept
    bundle = SpecForms(initial_spec=duplicate_of(kept.spec))
    return _render(request, endpoint, bundle, "duplicate", reverse("containers:create", kwargs={"eid": eid}), kept)


@requires("container.edit", resource="cid")
def edit(request: HttpRequest, eid: int, cid: str) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=eid)
    kept = _kept_or_redirect(request, endpoint, cid)
    if isinstance(kept, HttpResponse):
        return kept
    url = reverse("containers:edit", kwargs={"eid": eid, "cid": cid})
    if request.method != "POST":
        return _render(request, endpoint, SpecForms(initial_spec=kept.spec), "edit", url, kept, ConfirmRecreate())
    bundle, confirm = SpecForms(data=request.POST), ConfirmRecreate(data=request.POST)
    created = _submit(request, endpoint, bundle, replaces=kept.container_id) if confirm.is_valid() else None
    if created:
        return _done(request, endpoint, created, "Recreated")
    bundle.is_valid()  # show the form's own errors beside the confirmation's
    return _render(request, endpoint, bundle, "edit", url, kept, confirm, status=400)
