"""The doors of the console: every view, API call and websocket says which rule lets a user in.

Rules (decided by console/accounts/policy.py):
  - `@requires("container.restart", resource="cid")` for views: the user's role on the
    endpoint named by the URL's `eid` must allow the action, and (with `resource`) the
    resource named by that URL argument must be visible to them. The action may name URL
    arguments: `"container.{action}"`.
  - `PolicyPermission` for DRF views (the default permission class): reads the view's
    `required_action` (a string, or a dict by HTTP method) and `required_resource`; a view
    without `required_action` is administrators only.
  - `websocket_allowed(scope, action, endpoint, resource)` for consumers (sync; call it through
    database_sync_to_async), which close with 4403 when it is False.
  - `admin_required`, `IsConsoleAdmin` and `websocket_allowed(scope)`: administrators only.
  - `public` (no sign-in: login, probes) and `signed_in` (any signed-in user: their own account).
Each decorator marks the view with its `Rule` (`view.access_rule`), which the authorisation
matrix test (tests/console/test_authorization_matrix.py) reads. Refused changes are audited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from rest_framework.permissions import SAFE_METHODS, BasePermission

from console.accounts import policy

View = Callable[..., HttpResponse]
PUBLIC, SIGNED_IN, ADMIN_ONLY, ACTION = "public", "signed_in", "admin", "action"


@dataclass(frozen=True)
class Rule:
    """Who may open a view: `kind` is public, signed_in, admin or action (then `action`, `resource`)."""

    kind: str
    action: str = ""
    resource: str = ""
    endpoint_arg: str = "eid"

    def action_for(self, kwargs: dict[str, Any]) -> str:
        try:
            return self.action.format(**kwargs)
        except (KeyError, IndexError):
            return self.action


def is_console_admin(user: Any) -> bool:
    return policy.is_global_admin(user)


def _mark(view: View, rule: Rule) -> View:
    view.access_rule = rule  # type: ignore[attr-defined]
    return view


def _signed_out(request: HttpRequest) -> HttpResponse:
    """Anonymous: the login page; an htmx request gets 401 with HX-Redirect (a page whose session expired)."""
    if request.headers.get("HX-Request"):
        response = HttpResponse("Signed out: sign in again.", status=401, content_type="text/plain")
        response["HX-Redirect"] = resolve_url(settings.LOGIN_URL) + "?" + urlencode({"next": _page_path(request)})
        return response
    return redirect_to_login(request.get_full_path())


def _refuse(request: HttpRequest, reason: str, endpoint: Any = None) -> None:
    if request.method not in SAFE_METHODS:
        record_denied(request, reason, endpoint)
    raise PermissionDenied(reason)


def admin_required(view: View) -> View:
    """Administrators only. Anonymous users go to the login page; other users get 403 (a refused change is audited)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return _signed_out(request)
        if not is_console_admin(request.user):
            _refuse(request, "administrators only")
        return view(request, *args, **kwargs)

    return _mark(wrapper, Rule(ADMIN_ONLY))


def signed_in(view: View) -> View:
    """Any signed-in user (pages about their own account); the view limits itself to that user's things."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return _signed_out(request)
        return view(request, *args, **kwargs)

    return _mark(wrapper, Rule(SIGNED_IN))


def public(view: View) -> View:
    """No sign-in needed (the login page, health probes). Only marks the view for the matrix test."""
    return _mark(view, Rule(PUBLIC))


def requires(action: str, resource: str = "", endpoint_arg: str = "eid") -> Callable[[View], View]:
    """A view of one endpoint (URL argument `endpoint_arg`) that needs `action` there, and on the resource
    named by URL argument `resource` when given. Sets `request.berth_endpoint` and `request.berth_resource`."""
    rule = Rule(ACTION, action, resource, endpoint_arg)

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return _signed_out(request)
            endpoint = endpoint_of(kwargs.get(endpoint_arg))
            wanted = rule.action_for(kwargs)
            ident = str(kwargs.get(resource, "")) if resource else None
            if not policy.can(request.user, endpoint, wanted, ident):
                _refuse(request, f"not allowed: {wanted}", endpoint)
            request.berth_endpoint = endpoint  # type: ignore[attr-defined]
            request.berth_resource = (wanted.split(".", 1)[0], ident) if ident else None  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)

        return _mark(wrapper, rule)

    return decorate


def endpoint_of(eid: Any) -> Any:
    """The Endpoint with primary key `eid`, or Http404."""
    from console.endpoints.models import Endpoint

    try:
        found = Endpoint.objects.filter(pk=int(eid)).first()
    except (TypeError, ValueError):
        found = None
    if found is None:
        raise Http404("no such endpoint")
    return found


def record_denied(request: Any, reason: str = "administrators only", endpoint: Any = None) -> None:
    """Put a refused change in the activity log (who tried what, on which path, from where)."""
    from console.audit.log import record  # the audit app imports settings-dependent models
    from console.audit.models import Activity

    record(request, "access.denied", request.path, Activity.DENIED, reason, endpoint, method=request.method)


def _page_path(request: HttpRequest) -> str:
    """The page an htmx request came from (HX-Current-URL), as a local path; else the request's path."""
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    if current.path and current.netloc in ("", request.get_host()):
        return current.path + (f"?{current.query}" if current.query else "")
    return request.get_full_path()


class IsConsoleAdmin(BasePermission):
    """Administrators only (DRF)."""

    message = "Only administrators may use the console API."

    def has_permission(self, request: Any, view: Any) -> bool:
        return is_console_admin(request.user)


def drf_action(view: Any, method: str) -> str:
    """The action a DRF view requires for `method` ("" when it declares none: administrators only)."""
    wanted = getattr(view, "required_action", "")
    if isinstance(wanted, dict):
        wanted = wanted.get(method, wanted.get("*", ""))
    return wanted.format(**getattr(view, "kwargs", {})) if wanted else ""


class PolicyPermission(BasePermission):
    """The API's default: the view's `required_action` on the endpoint `eid` (and `required_resource`)."""

    message = "You are not allowed to do this on this endpoint."

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        if not getattr(user, "is_authenticated", False):
            return False
        wanted = drf_action(view, request.method)
        if not wanted:
            self.message = IsConsoleAdmin.message
            return is_console_admin(user)
        if wanted == SIGNED_IN:
            return True
        kwargs = getattr(view, "kwargs", {})
        endpoint = endpoint_of(kwargs.get("eid"))
        arg = getattr(view, "required_resource", "")
        return policy.can(user, endpoint, wanted, str(kwargs[arg]) if arg and arg in kwargs else None)


def websocket_allowed(scope: dict[str, Any], action: str = "", endpoint: Any = None, resource: str | None = None) -> bool:
    """For consumers. Without `action`: administrators only (no database access). With it, policy.can
    (touches the database: call it through database_sync_to_async)."""
    user = scope.get("user")
    if not action:
        return is_console_admin(user)
    if not getattr(user, "is_authenticated", False) or endpoint is None:
        return False
    return policy.can(user, endpoint, action, resource)


def home_for(request: HttpRequest, endpoint: Any) -> HttpResponse:
    """Where "/" takes a user who is not a global administrator: the dashboard of `endpoint` (the current one)
    when they have a role on it, else of the first endpoint they have one on, else their account page."""
    from django.shortcuts import redirect

    from console.endpoints.models import Endpoint

    if endpoint is None or not policy.can(request.user, endpoint, "endpoint.view"):
        endpoint = next(iter(policy.endpoints_for(request.user, Endpoint.objects.all())), None)
    if endpoint is None:
        return redirect("account")
    return redirect("dashboard", eid=endpoint.pk)


def declare(kind: str) -> Callable[[View], View]:
    """Mark a view that enforces its own rule (e.g. /metrics: administrators or a scraper's bearer token) with
    the rule a signed-in browser meets, for the authorisation matrix. Adds no check of its own."""
    return lambda view: _mark(view, Rule(kind))
