"""Signing in and out: password (throttled), then a TOTP code for users who turned 2FA on; logout.

Every attempt is audited with its source address: login.success, login.failure,
login.blocked (throttled, console/accounts/throttle.py), login.2fa_failure, logout.
Between the password and the code the session holds only the user's id and when the
password was accepted (PENDING_FOR to type the code); nobody is signed in until the code
is right. Logout flushes the session server-side: its cookie no longer signs anyone in.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model, login, logout
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from console.accounts import throttle, totp
from console.accounts.access import public
from console.audit.log import record
from console.audit.models import Activity

PENDING_KEY, PENDING_FOR = "berth_2fa_pending", 300


def _next_url(request: HttpRequest) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(wanted, {request.get_host()}, require_https=request.is_secure()):
        return wanted
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "") or ""


def _blocked(request: HttpRequest, form: AuthenticationForm, username: str, wait: int) -> HttpResponse:
    record(request, "login.blocked", username, Activity.DENIED, f"too many failed sign-ins; retry in {wait} s")
    context = {"form": form, "next": _next_url(request), "blocked": wait}
    response = render(request, "accounts/login.html", context, status=429)
    response["Retry-After"] = str(wait)
    return response


def _signed_in(request: HttpRequest, user: Any, via: str) -> HttpResponse:
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    throttle.succeeded(user.get_username())
    record(request, "login.success", user.get_username(), Activity.SUCCESS, via)
    return redirect(_next_url(request))


@public
@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    """The password step. A user with 2FA goes on to `login_code`; everyone else is signed in."""
    if request.user.is_authenticated:
        return redirect(_next_url(request))
    form = AuthenticationForm(request, data=request.POST or None)
    if request.method != "POST":
        return render(request, "accounts/login.html", {"form": form, "next": _next_url(request)})
    username = request.POST.get("username", "")[:150]
    verdict = throttle.check(username, _address(request))
    if not verdict.allowed:
        return _blocked(request, form, username, verdict.retry_after)
    if not form.is_valid():
        throttle.failed(username, _address(request))
        record(request, "login.failure", username, Activity.FAILURE, "wrong username or password")
        return render(request, "accounts/login.html", {"form": form, "next": _next_url(request)})
    user = form.get_user()
    if totp.enabled_for(user):
        request.session.cycle_key()
        request.session[PENDING_KEY] = {"user": user.pk, "at": time.time(), "next": _next_url(request)}
        return redirect("login-code")
    return _signed_in(request, user, "password")


def _pending_user(request: HttpRequest) -> Any:
    pending = request.session.get(PENDING_KEY) or {}
    if not pending or time.time() - float(pending.get("at", 0)) > PENDING_FOR:
        return None
    return get_user_model().objects.filter(pk=pending.get("user"), is_active=True).first()


@public
@sensitive_post_parameters("code")
@csrf_protect
@never_cache
def login_code(request: HttpRequest) -> HttpResponse:
    """The second step: a TOTP code, within PENDING_FOR of the password. Failures count toward throttling."""
    user = _pending_user(request)
    if user is None:
        request.session.pop(PENDING_KEY, None)
        return redirect("login")
    error = ""
    if request.method == "POST":
        verdict = throttle.check(user.get_username(), _address(request))
        if not verdict.allowed:
            return _blocked(request, AuthenticationForm(request), user.get_username(), verdict.retry_after)
        if totp.verify(totp.security_of(user), request.POST.get("code", "")):
            next_url = request.session.pop(PENDING_KEY, {}).get("next", "")
            response = _signed_in(request, user, "password and TOTP code")
            return redirect(next_url) if next_url else response
        throttle.failed(user.get_username(), _address(request))
        record(request, "login.2fa_failure", user.get_username(), Activity.FAILURE, "wrong or reused code")
        error = "That code is not right (or was used already). Type the current code from your app."
    return render(request, "accounts/login_code.html", {"error": error, "username": user.get_username()},
                  status=400 if error else 200)


@public
@require_POST
@csrf_protect
def logout_view(request: HttpRequest) -> HttpResponse:
    """Sign out: the session is deleted on the server, so a copy of its cookie signs nobody in."""
    if request.user.is_authenticated:
        record(request, "logout", request.user.get_username())
    logout(request)
    return redirect(settings.LOGOUT_REDIRECT_URL)
