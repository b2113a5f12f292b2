"""A user's own account: overview (roles, teams), API tokens, two-factor sign-in, password.

Every page here is for the signed-in user about themselves (`signed_in`); every change is audited.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters

from console.accounts import policy, totp
from console.accounts.access import signed_in
from console.accounts.models import ROLE_CHOICES, Team
from console.accounts.tokens import MAX_DAYS, issue_token, revoke_token, tokens_of
from console.audit.log import record
from console.endpoints.models import Endpoint


class NewTokenForm(forms.Form):
    name = forms.CharField(label="Name", max_length=64, help_text="What uses it, e.g. “deploy script”.")
    days = forms.IntegerField(label="Expires after (days)", required=False, min_value=1, max_value=MAX_DAYS,
                              help_text="Empty: it never expires (revoke it when no longer needed).")


@signed_in
def account(request: HttpRequest) -> HttpResponse:
    """Who I am here: my role on each endpoint, my teams, 2FA and token state."""
    labels = dict(ROLE_CHOICES)
    roles = [(e, labels[r]) for e in Endpoint.objects.all() if (r := policy.role_on(request.user, e)) != policy.NONE]
    context = {"roles": roles, "teams": Team.objects.filter(members=request.user),
               "led": Team.objects.filter(leaders=request.user), "totp_on": totp.enabled_for(request.user),
               "tokens": len(tokens_of(request.user))}
    return render(request, "accounts/account.html", context)


@signed_in
def api_token(request: HttpRequest) -> HttpResponse:
    """GET lists my tokens; POST action=create (name, days) shows the new key once; action=revoke (id) revokes one."""
    action = request.POST.get("action") if request.method == "POST" else None
    form = NewTokenForm(request.POST if action == "create" else None)
    if action == "create" and form.is_valid():
        made = issue_token(request.user, form.cleaned_data["name"], form.cleaned_data["days"])
        record(request, "token.create", made.token.name, prefix=made.token.prefix,
               expires=made.token.expires_at.isoformat() if made.token.expires_at else "never")
        # Rendered, not redirected: the key must not travel through the session or a URL.
        return render(request, "accounts/token.html", {"tokens": tokens_of(request.user), "form": NewTokenForm(),
                                                       "new_key": made.key, "new_token": made.token})
    if action == "revoke":
        token_id = int(request.POST.get("id") or 0) or None
        if revoke_token(request.user, token_id):
            record(request, "token.revoke", request.user.get_username(), id=token_id or "all")
            messages.success(request, "Token revoked. Clients that used it are refused from now on.")
        return redirect("api-token")
    status = 400 if form.is_bound else 200
    return render(request, "accounts/token.html", {"tokens": tokens_of(request.user), "form": form}, status=status)


@signed_in
@sensitive_post_parameters("code")
def two_factor(request: HttpRequest) -> HttpResponse:
    """Set up (scan, confirm with a code) or turn off TOTP two-factor sign-in."""
    sec = totp.security_of(request.user)
    action, error = request.POST.get("action", "") if request.method == "POST" else "", ""
    if action == "confirm":
        if totp.confirm(sec, request.POST.get("code", "")):
            record(request, "2fa.enable", request.user.get_username())
            messages.success(request, "Two-factor sign-in is on. Sign-in now asks for a code from your app.")
            return redirect("account-2fa")
        error = "That code does not match. Check the time on your phone and type the current code."
    elif action == "disable" and sec.totp_enabled:
        if sec.totp_required:
            messages.error(request, "An administrator requires two-factor sign-in for you; it cannot be turned off.")
        else:
            totp.disable(request.user)
            record(request, "2fa.disable", request.user.get_username())
            messages.success(request, "Two-factor sign-in is off.")
        return redirect("account-2fa")
    if not sec.totp_enabled:
        sec = totp.start_setup(request.user)
    uri = "" if sec.totp_enabled else totp.provisioning_uri(request.user, sec.totp_secret)
    context = {"sec": sec, "uri": uri, "qr": totp.qr_svg(uri) if uri else "", "error": error}
    return render(request, "accounts/two_factor.html", context, status=400 if error else 200)


@signed_in
@sensitive_post_parameters()
def password_change(request: HttpRequest) -> HttpResponse:
    """Change my password (the password policy's validators apply); other sessions of mine end."""
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        update_session_auth_hash(request, form.user)
        record(request, "password.change", request.user.get_username())
        messages.success(request, "Password changed.")
        return redirect("account")
    return render(request, "accounts/password.html", {"form": form}, status=400 if form.is_bound else 200)
