"""API tokens (DRF authtoken): one per user, made and revoked by its owner.

The key is shown once, when it is made; afterwards only the fact that a token
exists and when it was made. A new token replaces the old one, which stops working
at once.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from rest_framework.authtoken.models import Token


def token_of(user: Any) -> Token | None:
    """The user's token, or None."""
    return Token.objects.filter(user=user).first()


def issue_token(user: Any) -> Token:
    """A fresh token for `user`, replacing any earlier one. Its `key` must be shown to the user now."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)


def revoke_token(user: Any) -> bool:
    """Remove the user's token; False if there was none."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)
