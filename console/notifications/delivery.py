"""Sending notifications: record a Delivery for a firing, then send it by webhook or e-mail, once per attempt.

`record_firing()` makes the Delivery (or finds that the event was already
recorded: None). `attempt()` claims it ("sending", one worker at a time), sends
it once and writes the outcome — sent, or the error and whether another attempt
may follow (due at `next_attempt_at`, after `backoff()`); the Celery task in
tasks.py retries with that back-off. `send_test()` sends a rule's test notification at once
and records it as a test delivery.

Webhooks get `payload()` as JSON in a POST, with a timeout and no redirects
followed; any 2xx is success. E-mails go through Django's mail backend
(EMAIL_* settings; DEFAULT_FROM_EMAIL is the sender).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from console.endpoints.models import Endpoint
from console.notifications.matching import Firing
from console.notifications.models import Delivery, Rule

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT = (5.0, 10.0)  # seconds to connect, to read the answer
MAX_ATTEMPTS = 5
RETRY_DELAYS = (5, 20, 60, 300)  # seconds before the 2nd, 3rd, ... attempt
USER_AGENT = "Berth-console-notifications/1"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    error: str = ""
    retry: bool = False  # another attempt may help (a timeout, a 5xx)


def payload(rule_name: str, kind: str, endpoint: str, message: str, container: dict[str, Any], when: datetime,
            test: bool = False, details: dict[str, str] | None = None) -> dict[str, Any]:
    """The JSON a webhook receives (pure)."""
    return {"source": "berth", "rule": rule_name, "kind": kind, "endpoint": endpoint, "message": message,
            "container": container, "time": when.isoformat(), "test": test, "details": details or {}}


def record_firing(endpoint: Endpoint, rule: Rule, firing: Firing) -> Delivery | None:
    """The Delivery for `firing`, pending; None when this event was already recorded for this rule."""
    when = datetime.fromtimestamp(firing.time, tz=UTC)
    container = {"id": firing.container_id, "name": firing.container_name, "image": firing.image}
    body = payload(rule.name, firing.kind, endpoint.name, firing.message, container, when, details=firing.details)
    try:
        with transaction.atomic():
            return Delivery.objects.create(
                rule=rule, endpoint=endpoint, rule_name=rule.name, kind=firing.kind, channel=rule.channel,
                container_id=firing.container_id, container_name=firing.container_name, message=firing.message,
                payload=body, event_key=firing.key)
    except IntegrityError:
        return None


def send_webhook(url: str, body: dict[str, Any]) -> Outcome:
    try:
        response = requests.post(url, json=body, timeout=WEBHOOK_TIMEOUT, allow_redirects=False,
                                 headers={"User-Agent": USER_AGENT})
    except requests.Timeout:
        return Outcome(False, f"no answer within {WEBHOOK_TIMEOUT[1]:g} s", retry=True)
    except requests.RequestException as exc:
        return Outcome(False, f"could not reach the webhook: {_reason(exc)}", retry=True)
    if 200 <= response.status_code < 300:
        return Outcome(True)
    text = response.text.strip().replace("\n", " ")[:200]
    return Outcome(False, f"the webhook answered {response.status_code}{f': {text}' if text else ''}",
                   retry=response.status_code >= 500 or response.status_code == 429)


def _reason(exc: BaseException) -> str:
    """The innermost cause's words (requests nests them)."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def send_email(recipients: list[str], subject: str, text: str) -> Outcome:
    try:
        send_mail(subject, text, None, recipients, fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - SMTP errors, refused connections, bad settings: all mean "not sent"
        return Outcome(False, f"the mail was not sent: {exc}", retry=True)
    return Outcome(True)


def recipients(text: str) -> list[str]:
    return [a.strip() for a in text.replace(";", ",").split(",") if a.strip()]


def _email_text(body: dict[str, Any]) -> str:
    container = body.get("container") or {}
    lines = [body["message"], "", f"Endpoint: {body['endpoint']}", f"Rule: {body['rule']}", f"Time: {body['time']}"]
    if container.get("name"):
        lines.append(f"Container: {container['name']} ({container.get('id', '')[:12]}), image {container.get('image', '')}")
    if body.get("test"):
        lines.insert(0, "This is a test notification.")
    return "\n".join(lines) + "\n"


def send(channel: str, target: str, body: dict[str, Any]) -> Outcome:
    if channel == Rule.EMAIL:
        subject = f"[Berth] {'Test: ' if body.get('test') else ''}{body['message']}"[:200]
        return send_email(recipients(target), subject, _email_text(body))
    return send_webhook(target, body)


def backoff(attempts: int) -> int:
    """Seconds to wait after `attempts` failed attempts."""
    return RETRY_DELAYS[min(max(attempts, 1), len(RETRY_DELAYS)) - 1]


def claim(delivery: Delivery) -> bool:
    """Mark a waiting (pending or retrying) delivery "sending" for this attempt; False if it is not waiting
    (sent, failed, or another worker is sending it)."""
    now = timezone.now()
    claimed = Delivery.objects.filter(pk=delivery.pk, status__in=Delivery.WAITING).update(
        status=Delivery.SENDING, attempted_at=now)
    delivery.refresh_from_db()
    return bool(claimed)


def attempt(delivery: Delivery, final: bool = False) -> Outcome:
    """Claim `delivery` and send it once with its rule's current target; write status, error, attempts and
    when a retry is due. `final`: no retry follows. Not claimed (see `claim`): nothing is sent."""
    if not claim(delivery):
        return Outcome(delivery.status == Delivery.SENT, f"not sent now: it is {delivery.status}")
    rule = delivery.rule
    if rule is None:
        outcome = Outcome(False, "the rule was deleted before the notification went out")
    else:
        outcome = send(rule.channel, rule.email_to if rule.channel == Rule.EMAIL else rule.webhook_url, delivery.payload)
    delivery.attempts += 1
    delivery.error = outcome.error
    if outcome.ok:
        delivery.status, delivery.sent_at = Delivery.SENT, timezone.now()
    else:
        again = outcome.retry and not final and delivery.attempts < MAX_ATTEMPTS
        delivery.status = Delivery.RETRYING if again else Delivery.FAILED
        delivery.next_attempt_at = timezone.now() + timedelta(seconds=backoff(delivery.attempts)) if again else None
        outcome = Outcome(False, outcome.error, again)
        log.info("notification %s not sent (attempt %d): %s", delivery.pk, delivery.attempts, outcome.error)
    delivery.save(update_fields=["attempts", "error", "status", "sent_at", "next_attempt_at"])
    return outcome


def send_test(rule: Rule) -> Delivery:
    """Send a test notification for `rule` now (one attempt) and record it."""
    now = timezone.now()
    message = f"Test of the rule “{rule.name}” on {rule.endpoint.name}: {rule.get_kind_display().lower()}"
    body = payload(rule.name, rule.kind, rule.endpoint.name, message, {}, now, test=True)
    delivery = Delivery.objects.create(rule=rule, endpoint=rule.endpoint, rule_name=rule.name, kind=rule.kind,
                                       channel=rule.channel, test=True, message=message, payload=body)
    attempt(delivery, final=True)
    return delivery
