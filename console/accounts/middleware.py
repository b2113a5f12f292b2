"""Two-factor enforcement: a user an administrator requires 2FA of, who has not set it up, is sent to
the set-up page (/account/2fa/) before anything else; API calls and probes are refused or left alone."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect

from console.accounts.models import UserSecurity

ALLOWED_PREFIXES = ("/account/2fa/", "/logout/", "/login/", "/static/", "/healthz/", "/metrics")


def must_set_up_2fa(user: object) -> bool:
    """Whether `user` (signed in) is required to use 2FA and has not set it up yet."""
    sec = UserSecurity.objects.filter(user=user).first()
    return bool(sec and sec.totp_required and not sec.totp_enabled)


class TwoFactorEnforcement:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated and not request.path.startswith(ALLOWED_PREFIXES)
                and must_set_up_2fa(user)):
            if request.path.startswith("/api/"):
                return JsonResponse({"error": {"status": 403, "message": "Set up two-factor sign-in first (/account/2fa/)."}},
                                    status=403)
            return redirect("account-2fa")
        return self.get_response(request)
