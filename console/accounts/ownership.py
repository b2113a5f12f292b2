"""Resource ownership: recorded when the console creates a resource, changed by administrators.

`record_owner` is called by every path that creates a container, volume, network,
image (build) or stack: a non-administrator's resource belongs to them; an
administrator's to administrators only (Portainer's rule), until someone changes it on
the resource's page ("Ownership" card, templates/accounts/_ownership.html, posted to
`ownership_change`).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from console.accounts import policy
from console.accounts.access import requires
from console.accounts.models import (OWNER_ADMINS, OWNER_PUBLIC, OWNER_TEAM, OWNER_USER, OWNERSHIP_CHOICES,
                                     RESOURCE_KINDS, ResourceControl, Team)
from console.audit.log import record
from console.audit.models import Activity


def record_owner(user: Any, endpoint: Any, kind: str, resource_id: str, name: str = "",
                 replaces: str = "") -> ResourceControl:
    """Give a newly made resource its owner: the user when not an administrator on the endpoint, else
    administrators. With `replaces` (a recreated container), the old resource's ownership moves over."""
    old = ResourceControl.objects.filter(endpoint=endpoint, kind=kind, resource_id=replaces).first() if replaces else None
    if old is not None:
        old.resource_id, old.name = resource_id, name or old.name
        ResourceControl.objects.filter(endpoint=endpoint, kind=kind, resource_id=resource_id).exclude(pk=old.pk).delete()
        old.save()
        return old
    admin = policy.role_on(user, endpoint) == policy.ADMIN
    defaults = {"name": name, "ownership": OWNER_ADMINS if admin else OWNER_USER,
                "owner_user": None if admin or not getattr(user, "is_authenticated", False) else user, "owner_team": None}
    control, _ = ResourceControl.objects.update_or_create(endpoint=endpoint, kind=kind, resource_id=resource_id,
                                                          defaults=defaults)
    return control


def forget(endpoint: Any, kind: str, ident: str) -> None:
    """The resource `ident` (ID, ID prefix or name) is gone: drop its ownership row (an engine may reuse a name)."""
    control = policy.control_for(endpoint, kind, ident)
    if control is not None:
        control.delete()


def card_context(request: HttpRequest, endpoint: Any, kind: str, resource_id: str, name: str = "") -> dict[str, Any]:
    """What templates/accounts/_ownership.html needs: the current owner and, for administrators, the choices."""
    control = policy.control_for(endpoint, kind, resource_id)
    admin = policy.role_on(request.user, endpoint) == policy.ADMIN
    return {
        "ownership": {
            "kind": kind, "resource_id": resource_id, "name": name, "control": control,
            "label": control.owner_label() if control else "Administrators only",
            "editable": admin, "choices": OWNERSHIP_CHOICES,
            "users": list(get_user_model().objects.filter(is_active=True).order_by("username")) if admin else [],
            "teams": list(Team.objects.all()) if admin else [],
            "next": request.get_full_path(),
        },
    }


def _owner_from(post: Any) -> tuple[str, Any, Any] | str:
    """(ownership, user, team) from the card's form, or an error text."""
    ownership = post.get("ownership", "")
    if ownership not in dict(OWNERSHIP_CHOICES):
        return "Choose who owns it."
    if ownership == OWNER_USER:
        user = get_user_model().objects.filter(pk=post.get("owner_user") or 0).first()
        return (ownership, user, None) if user else "Choose the user who owns it."
    if ownership == OWNER_TEAM:
        team = Team.objects.filter(pk=post.get("owner_team") or 0).first()
        return (ownership, None, team) if team else "Choose the team that owns it."
    return ownership, None, None


@requires("endpoint.manage")
@require_POST
def ownership_change(request: HttpRequest, eid: int) -> HttpResponse:
    """POST kind, resource_id, name, ownership, owner_user | owner_team, next: set a resource's owner (audited)."""
    endpoint = request.berth_endpoint  # type: ignore[attr-defined]
    kind, resource_id = request.POST.get("kind", ""), request.POST.get("resource_id", "").strip()
    back = request.POST.get("next", "")
    back = back if url_has_allowed_host_and_scheme(back, {request.get_host()}) else "/"
    owner = _owner_from(request.POST)
    if kind not in dict(RESOURCE_KINDS) or not resource_id or isinstance(owner, str):
        messages.error(request, owner if isinstance(owner, str) else "Unknown resource.")
        return redirect(back)
    ownership, user, team = owner
    control = policy.control_for(endpoint, kind, resource_id) or ResourceControl(endpoint=endpoint, kind=kind,
                                                                                 resource_id=resource_id)
    control.name = request.POST.get("name", "") or control.name
    control.ownership, control.owner_user, control.owner_team = ownership, user, team
    control.save()
    record(request, f"{kind}.ownership", control.name or resource_id, Activity.SUCCESS, control.owner_label(), endpoint,
           id=control.resource_id, ownership=ownership)
    messages.success(request, f"Now owned by {control.owner_label().lower() if ownership in (OWNER_ADMINS, OWNER_PUBLIC) else control.owner_label()}.")
    return redirect(back)
