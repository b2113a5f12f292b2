"""Registry credentials pages (/registries/): list, add, edit, remove, and "Test login".

The password is never rendered back: the edit form's field is empty and keeps the stored one unless
filled. Every change and every test is recorded in the activity log (without the password). "Test
login" asks an endpoint's engine to log in (console/registries/login.py) — with what the form holds,
or, from the list, with the stored credentials.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from console.accounts.access import admin_required
from console.audit.log import record
from console.audit.models import Activity
from console.endpoints.models import Endpoint
from console.endpoints.views import current_endpoint
from console.registries.crypto import SecretUnreadable
from console.registries.forms import RegistryForm
from console.registries.login import LoginResult, test_login
from console.registries.models import RegistryCredential


def _test_endpoint(request: HttpRequest) -> Endpoint | None:
    """The endpoint chosen to test from (?/POST test_endpoint=), else the current one."""
    raw = request.POST.get("test_endpoint") or request.GET.get("test_endpoint") or ""
    chosen = Endpoint.objects.filter(pk=int(raw)).first() if raw.isdigit() else None
    return chosen or current_endpoint(request)


def _run_test(request: HttpRequest, server: str, username: str, password: str, name: str) -> LoginResult:
    endpoint = _test_endpoint(request)
    if endpoint is None:
        return LoginResult(False, "Add an endpoint first: the test runs on an engine.")
    result = test_login(endpoint, server, username, password)
    record(request, "registry.test", name or server, Activity.SUCCESS if result.ok else Activity.FAILURE,
           result.message, endpoint, server=server, username=username)
    return result


@admin_required
def registry_list(request: HttpRequest) -> HttpResponse:
    return render(request, "registries/list.html", {"registries": RegistryCredential.objects.all(),
                                                    "test_from": current_endpoint(request)})


def _form_page(request: HttpRequest, item: RegistryCredential | None) -> HttpResponse:
    form = RegistryForm(request.POST or None, instance=item)
    if request.method == "POST" and request.POST.get("action") == "test":
        return _form_test(request, form, item)
    if request.method == "POST" and form.is_valid():
        saved = form.save(commit=False)
        if item is None:
            saved.created_by = request.user
        saved.save()
        record(request, "registry.update" if item else "registry.create", saved.name, Activity.SUCCESS, "", None,
               server=saved.server, username=saved.username, credentials_replaced=bool(form.cleaned_data.get("password")))
        messages.success(request, f"Saved the credentials for {saved.server}.")
        return redirect("registries:list")
    if request.method == "POST":
        record(request, "registry.update" if item else "registry.create", request.POST.get("name", ""), Activity.FAILURE,
               "invalid input", None, fields=sorted(form.errors))
    return render(request, "registries/form.html", {"form": form, "item": item, "endpoints_to_test": Endpoint.objects.all(),
                                                    "test_from": _test_endpoint(request)},
                  status=400 if request.method == "POST" else 200)


def _form_test(request: HttpRequest, form: RegistryForm, item: RegistryCredential | None) -> HttpResponse:
    """The form's "Test login" (htmx or not): test what the form holds without saving it."""
    form.fields["password"].required = False
    context: dict[str, Any] = {"form": form, "item": item, "endpoints_to_test": Endpoint.objects.all(),
                               "test_from": _test_endpoint(request)}
    result = _test_form(request, form)
    context["result"] = result
    template = "registries/_test_result.html" if request.headers.get("HX-Request") else "registries/form.html"
    return render(request, template, context)


def _test_form(request: HttpRequest, form: RegistryForm) -> LoginResult:
    if not form.is_valid():
        return LoginResult(False, "Fix the form first.")
    try:
        password = form.test_password()
    except SecretUnreadable as exc:
        return LoginResult(False, str(exc))
    if not password:
        return LoginResult(False, "Enter the password or token to test.")
    data = form.cleaned_data
    return _run_test(request, data["server"], data["username"], password, data["name"])


@admin_required
def registry_add(request: HttpRequest) -> HttpResponse:
    return _form_page(request, None)


@admin_required
def registry_edit(request: HttpRequest, rid: int) -> HttpResponse:
    return _form_page(request, get_object_or_404(RegistryCredential, pk=rid))


@admin_required
@require_POST
def registry_delete(request: HttpRequest, rid: int) -> HttpResponse:
    item = get_object_or_404(RegistryCredential, pk=rid)
    item.delete()
    record(request, "registry.delete", item.name, Activity.SUCCESS, "", None, server=item.server)
    messages.success(request, f"Removed the credentials for {item.server}.")
    return redirect("registries:list")


@admin_required
@require_POST
def registry_test(request: HttpRequest, rid: int) -> HttpResponse:
    """Test the stored credentials; the result fragment (htmx) or a message on the list."""
    item = get_object_or_404(RegistryCredential, pk=rid)
    try:
        result = _run_test(request, item.server, item.username, item.password(), item.name)
    except SecretUnreadable as exc:
        result = LoginResult(False, str(exc))
    if request.headers.get("HX-Request"):
        return render(request, "registries/_test_result.html", {"result": result, "compact": True})
    (messages.success if result.ok else messages.error)(request, f"{item.server}: {result.message}")
    return redirect("registries:list")
