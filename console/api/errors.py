"""One error shape for the REST API: {"error": {"status", "message", "fields"?}}."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_handler

from console.endpoints.client import EngineError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, EngineError):
        status = exc.status if exc.status and 400 <= exc.status < 600 else 502
        return Response({"error": {"status": status, "message": exc.message}}, status=status)
    response = drf_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and set(data) == {"detail"}:
        body = {"status": response.status_code, "message": str(data["detail"])}
    else:
        body = {"status": response.status_code, "message": "invalid input", "fields": data}
    response.data = {"error": body}
    return response
