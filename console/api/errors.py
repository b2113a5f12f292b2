"""One error shape for the REST API: {"error": {"status", "message", "fields"?}}.

`fields` maps a field name to its messages when the input was invalid. Anonymous
callers get 401 with `WWW-Authenticate: Token` (DRF would answer 403, because session
authentication comes first); a signed-in user refused a change is recorded in the
activity log as "denied". Engine failures (EngineError) keep the engine's words and
status, or 502 when no engine answered.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_handler

from console.accounts.policy import PolicyViolation
from console.endpoints.client import EngineError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, PolicyViolation):  # the endpoint's security settings; audited where it was raised
        return Response({"error": {"status": 403, "message": exc.message}}, status=403)
    if isinstance(exc, EngineError):
        status = exc.status if exc.status and 400 <= exc.status < 600 else 502
        return Response({"error": {"status": status, "message": exc.message}}, status=status)
    response = drf_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        response.status_code = 401
        response["WWW-Authenticate"] = "Token"
    elif isinstance(exc, exceptions.PermissionDenied):
        _record_denied(context.get("request"))
    data = response.data
    if isinstance(data, dict) and set(data) == {"detail"}:
        body = {"status": response.status_code, "message": str(data["detail"])}
    elif isinstance(data, dict):
        body = {"status": response.status_code, "message": _summary(data), "fields": data}
    else:
        body = {"status": response.status_code, "message": " ".join(str(d) for d in data) if isinstance(data, list) else str(data)}
    response.data = {"error": body}
    return response


def _summary(fields: dict[str, Any]) -> str:
    """"invalid input: name, url" — which fields to look at."""
    names = [n for n in fields if n != "non_field_errors"]
    general = fields.get("non_field_errors") or []
    if general and not names:
        return " ".join(str(m) for m in general)
    return "invalid input: " + ", ".join(names) if names else "invalid input"


def _record_denied(request: Any) -> None:
    user = getattr(request, "user", None)
    if request is None or request.method in SAFE_METHODS or not getattr(user, "is_authenticated", False):
        return
    from console.accounts.access import record_denied

    record_denied(request)
