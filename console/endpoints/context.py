"""Template context for every page: the endpoints, and the one the page is about."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from console.endpoints.models import Endpoint


def endpoints(request: HttpRequest) -> dict[str, Any]:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    match = getattr(request, "resolver_match", None)
    eid = (match.kwargs.get("eid") if match else None) or request.session.get("endpoint_id")
    from console.accounts.policy import endpoints_for  # only endpoints the user has a role on

    all_endpoints = endpoints_for(request.user, Endpoint.objects.all())
    current = next((e for e in all_endpoints if e.pk == eid), None) if eid else None
    if current is None:
        current = next((e for e in all_endpoints if e.is_local), all_endpoints[0] if all_endpoints else None)
    return {"endpoints": all_endpoints, "current_endpoint": current}
