"""The probes and the metrics page.

  GET /healthz/live    200 {"live": true} while the process answers; touches neither the
                       database nor Redis (liveness: restart me only if this fails).
  GET /healthz/ready   200 {"ready": true, "checks": {...}, "reasons": []}, or 503 with
                       `reasons` ("channel_layer: Connection refused", …) — see health.py.
  GET /metrics         Prometheus exposition (OpenMetrics when asked) of console/observe/metrics.py.

The probes need no login: they reveal ok/not ok and short reasons, no URLs or
secrets. /metrics is for administrators (session) or a scraper presenting
`Authorization: Bearer <BERTH_METRICS_TOKEN>`; without a token configured only
administrators may read it.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from console.accounts.access import declare, is_console_admin, public
from console.observe import health, metrics


@public  # probes need no sign-in (console/accounts/access.py)
@never_cache
@require_safe
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"live": True})


@public
@never_cache
@require_safe
def ready(request: HttpRequest) -> JsonResponse:
    checks = health.readiness()
    reasons = [f"{c.name}: {c.reason}" for c in checks if not c.ok]
    body = {"ready": not reasons, "checks": {c.name: c.as_dict() for c in checks}, "reasons": reasons}
    return JsonResponse(body, status=503 if reasons else 200)


def bearer_token_ok(request: HttpRequest) -> bool:
    """The request presents BERTH_METRICS_TOKEN as a bearer token (compared in constant time)."""
    wanted = getattr(settings, "BERTH_METRICS_TOKEN", "")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if not wanted or scheme.lower() != "bearer" or not given.strip():
        return False
    return hmac.compare_digest(given.strip().encode(), wanted.encode())


@declare("admin")  # administrators, or a scraper with BERTH_METRICS_TOKEN (checked below)
@never_cache
@require_safe
def scrape(request: HttpRequest) -> HttpResponse:
    if not bearer_token_ok(request):
        if request.headers.get("Authorization"):
            return _refuse(401, "invalid token")
        if not request.user.is_authenticated:
            return _refuse(401, "sign in as an administrator or send Authorization: Bearer <BERTH_METRICS_TOKEN>")
        if not is_console_admin(request.user):
            return _refuse(403, "administrators only")
    body, content_type = metrics.exposition(request.headers.get("Accept"))
    return HttpResponse(body, content_type=content_type)


def _refuse(status: int, message: str) -> HttpResponse:
    response = HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8")
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="berth-console metrics"'
    return response
