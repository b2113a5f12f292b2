"""An endpoint's access page (roles of users and teams) and its security settings page (administrators)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from console.accounts import policy
from console.accounts.access import requires
from console.accounts.forms import RoleForm, SecurityForm
from console.accounts.models import EndpointRole, Team
from console.audit.log import record


def _subject(value: str) -> dict[str, object]:
    kind, _, pk = value.partition(":")
    if kind == "user":
        return {"user": get_user_model().objects.get(pk=int(pk)), "team": None}
    return {"team": Team.objects.get(pk=int(pk)), "user": None}


@requires("endpoint.manage")
def endpoint_access(request: HttpRequest, eid: int) -> HttpResponse:
    """Who has which role on the endpoint; POST subject + role gives (or changes) one."""
    endpoint = request.berth_endpoint  # type: ignore[attr-defined]
    form = RoleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        who = _subject(form.cleaned_data["subject"])
        key = {"user": who["user"]} if who["user"] else {"team": who["team"]}
        EndpointRole.objects.update_or_create(endpoint=endpoint, **key, defaults={"role": form.cleaned_data["role"]})
        label = f"user {who['user']}" if who["user"] else f"team {who['team']}"
        record(request, "endpoint.role", label, message=form.cleaned_data["role"], endpoint=endpoint)
        messages.success(request, f"{label[:1].upper()}{label[1:]} is now {form.cleaned_data['role']} on {endpoint.name}.")
        return redirect("access-roles", eid=eid)
    roles = EndpointRole.objects.filter(endpoint=endpoint).select_related("user", "team").order_by("team__name", "user__username")
    admins = get_user_model().objects.filter(is_active=True).filter(is_staff=True) | get_user_model().objects.filter(
        is_active=True, is_superuser=True)
    context = {"endpoint": endpoint, "roles": roles, "form": form, "admins": admins.distinct().order_by("username")}
    return render(request, "accounts/endpoint_access.html", context, status=400 if form.is_bound else 200)


@requires("endpoint.manage")
@require_POST
def endpoint_access_remove(request: HttpRequest, eid: int, rid: int) -> HttpResponse:
    endpoint = request.berth_endpoint  # type: ignore[attr-defined]
    role = EndpointRole.objects.filter(endpoint=endpoint, pk=rid).select_related("user", "team").first()
    if role is not None:
        label = f"user {role.user}" if role.user else f"team {role.team}"
        role.delete()
        record(request, "endpoint.role_remove", label, endpoint=endpoint)
        messages.success(request, f"Removed the role of {label} on {endpoint.name}.")
    return redirect("access-roles", eid=eid)


@requires("endpoint.manage")
def endpoint_security(request: HttpRequest, eid: int) -> HttpResponse:
    """What non-administrators may not ask of this endpoint's engine (console/accounts/policy.py enforces it)."""
    endpoint = request.berth_endpoint  # type: ignore[attr-defined]
    form = SecurityForm(request.POST or None, instance=policy.security_of(endpoint))
    if request.method == "POST" and form.is_valid():
        saved = form.save()
        record(request, "endpoint.security", endpoint.name, endpoint=endpoint,
               **{rule: getattr(saved, rule) for rule in saved.RULES})
        messages.success(request, f"Saved the security settings of {endpoint.name}.")
        return redirect("access-security", eid=eid)
    return render(request, "accounts/endpoint_security.html", {"endpoint": endpoint, "form": form},
                  status=400 if form.is_bound else 200)
