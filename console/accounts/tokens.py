"""API tokens: several per user, named, shown once, stored hashed, with expiry, revocable, last-used time.

A key is "berth_" + 40 random URL-safe characters; the database keeps its SHA-256 and
its first 12 characters (to tell tokens apart). `ApiTokenAuthentication` accepts
`Authorization: Token <key>` (or `Bearer <key>`) for the REST API; a revoked, expired
or unknown key, or one whose user is inactive, is refused with 401.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from console.accounts.models import ApiToken

KEY_PREFIX = "berth_"
LAST_USED_EVERY = timedelta(minutes=1)  # at most one write per token per minute
MAX_DAYS = 3650


@dataclass(frozen=True)
class NewToken:
    """A token just made: `key` must be shown to its owner now; it cannot be recovered later."""

    token: ApiToken
    key: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def tokens_of(user: Any) -> list[ApiToken]:
    """The user's tokens that still work, newest first."""
    now = timezone.now()
    return [t for t in ApiToken.objects.filter(user=user, revoked_at__isnull=True) if not t.expires_at or t.expires_at > now]


def token_of(user: Any) -> ApiToken | None:
    """The user's newest working token, or None."""
    found = tokens_of(user)
    return found[0] if found else None


def issue_token(user: Any, name: str = "", days: int | None = None) -> NewToken:
    """A fresh token for `user`, named `name`, expiring after `days` (None: never)."""
    key = KEY_PREFIX + secrets.token_urlsafe(30)
    expires = timezone.now() + timedelta(days=days) if days else None
    token = ApiToken.objects.create(user=user, name=(name or "API token")[:64], prefix=key[:12], key_hash=hash_key(key),
                                    expires_at=expires)
    return NewToken(token, key)


def revoke_token(user: Any, token_id: int | None = None) -> int:
    """Revoke one of the user's tokens (or all of them); how many were revoked."""
    working = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
    if token_id is not None:
        working = working.filter(pk=token_id)
    return working.update(revoked_at=timezone.now())


def authenticate_key(key: str) -> ApiToken | None:
    """The working token with this key (its last-used time refreshed), or None."""
    token = ApiToken.objects.select_related("user").filter(key_hash=hash_key(key), revoked_at__isnull=True).first()
    now = timezone.now()
    if token is None or (token.expires_at and token.expires_at <= now) or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


class ApiTokenAuthentication(BaseAuthentication):
    """DRF: `Authorization: Token <key>` or `Bearer <key>`."""

    keywords = (b"token", b"bearer")

    def authenticate(self, request: Any) -> tuple[Any, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in self.keywords:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: send 'Token <key>'.")
        token = authenticate_key(parts[1].decode("latin-1"))
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        return "Token"


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema names this authentication: "tokenAuth", an Authorization header."""

    target_class = "console.accounts.tokens.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Token <key>` (or `Bearer <key>`): a key from /account/token/ or POST /api/tokens/."}
