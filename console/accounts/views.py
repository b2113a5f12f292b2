"""The API token page: an administrator makes, replaces or revokes their own API token."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from console.accounts.access import admin_required
from console.accounts.tokens import issue_token, revoke_token, token_of
from console.audit.log import record
from console.audit.models import Activity


@admin_required
def api_token(request: HttpRequest) -> HttpResponse:
    """GET shows whether a token exists; POST action=create shows a new key once, action=revoke removes it."""
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "create":
        replaced = token_of(request.user) is not None
        token = issue_token(request.user)
        record(request, "token.create", request.user.get_username(), Activity.SUCCESS, "replaced the earlier token" if replaced else "")
        # Rendered, not redirected: the key must not travel through the session or a URL.
        return render(request, "accounts/token.html", {"token": token, "new_key": token.key})
    if action == "revoke":
        if revoke_token(request.user):
            record(request, "token.revoke", request.user.get_username())
            messages.success(request, "API token revoked. Clients that used it are refused from now on.")
        return redirect("api-token")
    return render(request, "accounts/token.html", {"token": token_of(request.user)})
