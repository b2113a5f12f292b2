"""Deliveries nobody is sending any more: found and sent again, or failed with the reason.

A delivery should move on its own: the deliver task claims it ("sending"), sends it and leaves it
sent, failed, or retrying with `next_attempt_at`. Two things can stop it, and `sweep()` (the beat
task "notifications.sweep", every SWEEP_INTERVAL seconds) repairs both:

- "sending" for over SENDING_TIMEOUT seconds (far longer than an attempt may take: webhook and SMTP
  calls have timeouts): the worker died mid-attempt. That attempt counts; the delivery is queued
  again, or failed when it was the last one allowed (delivery.MAX_ATTEMPTS).
- pending or retrying more than GRACE seconds past when its attempt was due: its message was lost
  (a worker died holding it, the broker restarted). It is queued again.

A delivery still not sent MAX_AGE after it was made is failed, with its last error, rather than
retried for ever. Every state change is one guarded UPDATE, so a worker that wakes up meanwhile and
the sweep cannot both win. Pure timing rules are in `due()` and `stuck_reason()`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.utils import timezone

from console.notifications.delivery import MAX_ATTEMPTS, backoff
from console.notifications.models import Delivery

log = logging.getLogger(__name__)

SWEEP_INTERVAL = 60.0
GRACE = timedelta(seconds=120)
SENDING_TIMEOUT = timedelta(seconds=300)
MAX_AGE = timedelta(days=1)


def due(delivery: Delivery) -> datetime:
    """When the delivery's next attempt was due (pure)."""
    if delivery.status == Delivery.RETRYING:
        if delivery.next_attempt_at is not None:
            return delivery.next_attempt_at
        return (delivery.attempted_at or delivery.created_at) + timedelta(seconds=backoff(delivery.attempts))
    return delivery.created_at


def stuck_reason(delivery: Delivery, now: datetime) -> str:
    """Why nobody is sending `delivery` any more, or "" while it is on schedule (pure)."""
    if delivery.status == Delivery.SENDING:
        began = delivery.attempted_at or delivery.created_at
        if now - began > SENDING_TIMEOUT:
            return f"the worker sending it stopped mid-way (attempt {delivery.attempts + 1} began {began:%H:%M:%S} UTC)"
        return ""
    if delivery.status in Delivery.WAITING and now - due(delivery) > GRACE:
        return f"its attempt was due at {due(delivery):%H:%M:%S} UTC and no worker made it"
    return ""


def _fail(delivery: Delivery, error: str, attempts: int) -> bool:
    return bool(Delivery.objects.filter(pk=delivery.pk, status=delivery.status, attempts=delivery.attempts).update(
        status=Delivery.FAILED, error=error[:2000], attempts=attempts, next_attempt_at=None))


def _requeue(delivery: Delivery, note: str, attempts: int, now: datetime) -> bool:
    return bool(Delivery.objects.filter(pk=delivery.pk, status=delivery.status, attempts=delivery.attempts).update(
        status=Delivery.RETRYING, error=note[:2000], attempts=attempts, next_attempt_at=now))


def repair(delivery: Delivery, reason: str, now: datetime, dispatch: Callable[[Delivery], None]) -> str:
    """Queue `delivery` again or fail it; "resent", "failed", or "" when it changed meanwhile."""
    attempts = delivery.attempts + (1 if delivery.status == Delivery.SENDING else 0)
    last = f" Last error: {delivery.error}" if delivery.error and delivery.status != Delivery.SENDING else ""
    if attempts >= MAX_ATTEMPTS:
        done = _fail(delivery, f"Not sent after {attempts} attempts: {reason}.{last}", attempts)
        return "failed" if done else ""
    if now - delivery.created_at > MAX_AGE:
        done = _fail(delivery, f"Not sent within {MAX_AGE.days * 24} h: {reason}.{last}", attempts)
        return "failed" if done else ""
    if delivery.status == Delivery.SENDING and not _requeue(delivery, f"Trying again: {reason}.", attempts, now):
        return ""
    delivery.refresh_from_db()
    dispatch(delivery)
    return "resent"


def sweep(dispatch: Callable[[Delivery], None]) -> dict[str, int]:
    """Every stuck delivery repaired (see the module doc); counts by outcome. `dispatch` queues one (tasks.dispatch)."""
    now = timezone.now()
    counts = {"resent": 0, "failed": 0}
    candidates = Delivery.objects.select_related("rule", "endpoint").filter(
        status__in=(Delivery.PENDING, Delivery.RETRYING, Delivery.SENDING), created_at__lt=now - GRACE)
    for delivery in candidates:
        reason = stuck_reason(delivery, now)
        if reason:
            outcome = repair(delivery, reason, now, dispatch)
            if outcome:
                counts[outcome] += 1
                log.warning("notification %s %s: %s", delivery.pk, outcome, reason)
    return counts
