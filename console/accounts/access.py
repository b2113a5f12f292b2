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

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import BasePermission


def is_console_admin(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and (user.is_staff or user.is_superuser))


def admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous users go to the login page; signed-in users who are not administrators get 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_console_admin(request.user):
            raise PermissionDenied("administrators only")
        return view(request, *args, **kwargs)

    return wrapper


class IsConsoleAdmin(BasePermission):
    message = "Only administrators may use the console API."

    def has_permission(self, request: Any, view: Any) -> bool:
        return is_console_admin(request.user)


def websocket_allowed(scope: dict[str, Any]) -> bool:
    """For consumers: the session's user (AuthMiddlewareStack) must be an administrator."""
    return is_console_admin(scope.get("user"))
