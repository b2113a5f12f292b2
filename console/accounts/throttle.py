"""Login throttling: failed sign-ins slow down, then block, per username and per source address.

Counted in the database (LoginThrottle rows, one per key "user:<name>" / "ip:<address>"),
so every console process sees the same counts. Within WINDOW of the first failure:
after SLOW_AFTER failures each further failure makes the key wait 2^(n - SLOW_AFTER)
seconds (capped at MAX_WAIT) before the next try is even checked; after BLOCK_AFTER
failures (per user) or IP_BLOCK_AFTER (per address) the key is blocked for BLOCK_FOR.
A successful sign-in clears the username's count (not the address's: one good password
does not excuse a spray from that address). Pure arithmetic is in `wait_after`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from console.accounts.models import LoginThrottle

WINDOW = timedelta(minutes=15)
SLOW_AFTER = 3
BLOCK_AFTER = 10
IP_BLOCK_AFTER = 30
MAX_WAIT = 60
BLOCK_FOR = timedelta(minutes=15)


@dataclass(frozen=True)
class Verdict:
    """Whether a sign-in may be tried now; if not, for how many seconds more it is refused."""

    allowed: bool
    retry_after: int = 0


def keys_for(username: str, address: str) -> list[str]:
    return [f"user:{username.strip().lower()[:150]}", f"ip:{address or '-'}"]


def wait_after(failures: int, block_after: int) -> timedelta:
    """Pure: how long a key must wait after its `failures`-th failure."""
    if failures >= block_after:
        return BLOCK_FOR
    if failures < SLOW_AFTER:
        return timedelta(0)
    return timedelta(seconds=min(MAX_WAIT, 2 ** (failures - SLOW_AFTER)))


def check(username: str, address: str, now: datetime | None = None) -> Verdict:
    """May this username try to sign in from this address now?"""
    now = now or timezone.now()
    rows = LoginThrottle.objects.filter(key__in=keys_for(username, address), blocked_until__gt=now)
    waits = [int((row.blocked_until - now).total_seconds()) + 1 for row in rows if row.blocked_until]
    return Verdict(False, max(waits)) if waits else Verdict(True)


def failed(username: str, address: str, now: datetime | None = None) -> None:
    """Count a failed sign-in against both keys."""
    now = now or timezone.now()
    for key in keys_for(username, address):
        block_after = IP_BLOCK_AFTER if key.startswith("ip:") else BLOCK_AFTER
        with transaction.atomic():
            row, _ = LoginThrottle.objects.select_for_update().get_or_create(key=key, defaults={"window_started": now})
            if now - row.window_started > WINDOW and not (row.blocked_until and row.blocked_until > now):
                row.failures, row.window_started = 0, now
            row.failures += 1
            wait = wait_after(row.failures, block_after)
            row.blocked_until = now + wait if wait else None
            row.save()


def succeeded(username: str) -> None:
    LoginThrottle.objects.filter(key=keys_for(username, "")[0]).delete()
