"""Who may do what. Until teams and roles arrive (multi-user issue), every page, API
call and websocket of the console requires an administrator, checked server-side.

One rule, three doors: `admin_required` for views, `IsConsoleAdmin` for the REST API,
`websocket_allowed` for Channels consumers (which call it in `connect()` and refuse
early).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import resolve_url
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import SAFE_METHODS, BasePermission


def is_console_admin(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and (user.is_staff or user.is_superuser))


def admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous users go to the login page; signed-in users who are not administrators get 403.

    An htmx request from a page whose session has expired gets 401 with HX-Redirect, so the
    browser goes to the login page instead of swapping it into a fragment. A refused change
    (any method but GET/HEAD/OPTIONS) by a signed-in user is recorded as "denied".
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            if request.headers.get("HX-Request"):
                response = HttpResponse("Signed out: sign in again.", status=401, content_type="text/plain")
                response["HX-Redirect"] = resolve_url(settings.LOGIN_URL) + "?" + urlencode({"next": _page_path(request)})
                return response
            return redirect_to_login(request.get_full_path())
        if not is_console_admin(request.user):
            if request.method not in SAFE_METHODS:
                record_denied(request)
            raise PermissionDenied("administrators only")
        return view(request, *args, **kwargs)

    return wrapper


def record_denied(request: Any) -> None:
    """Put a refused change in the activity log (who tried what, on which path)."""
    from console.audit.log import record  # the audit app imports settings-dependent models
    from console.audit.models import Activity

    record(request, "access.denied", request.path, Activity.DENIED, "administrators only", method=request.method)


def _page_path(request: HttpRequest) -> str:
    """The page an htmx request came from (HX-Current-URL), as a local path; else the request's path."""
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    if current.path and current.netloc in ("", request.get_host()):
        return current.path + (f"?{current.query}" if current.query else "")
    return request.get_full_path()


class IsConsoleAdmin(BasePermission):
    message = "Only administrators may use the console API."

    def has_permission(self, request: Any, view: Any) -> bool:
        return is_console_admin(request.user)


def websocket_allowed(scope: dict[str, Any]) -> bool:
    """For consumers: the session's user (AuthMiddlewareStack) must be an administrator."""
    return is_console_admin(scope.get("user"))
