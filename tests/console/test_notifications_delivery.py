"""Notification delivery: e-mail through a real SMTP receiver on loopback and Django's locmem backend, the e-mail
settings read from the environment, and the sweep that rescues deliveries a dead worker or a lost message left
waiting ("pending", "retrying") or "sending" past their schedule."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from console.notifications import delivery as sending
from console.notifications import sweeper, tasks
from console.notifications.models import Delivery, Rule
from tests.support.engine import REPO
from tests.support.smtp import SmtpReceiver
from tests.support.webhook import WebhookReceiver

pytestmark = pytest.mark.django_db


def smtp_settings(settings, port: int, **more) -> None:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = more.get("user", ""), more.get("password", "")
    settings.DEFAULT_FROM_EMAIL = "Berth <berth@test.invalid>"


def email_rule(endpoint, to: str = "ops@example.com, dev@example.com") -> Rule:  # type: ignore[no-untyped-def]
    return Rule.objects.create(endpoint=endpoint, name="mail ops", kind="unhealthy", channel="email", email_to=to)


def pending(rule: Rule, age: timedelta = timedelta(0), **fields) -> Delivery:  # type: ignore[no-untyped-def]
    d = Delivery.objects.create(rule=rule, endpoint=rule.endpoint, rule_name=rule.name, kind=rule.kind, channel=rule.channel,
                                message="web-1 became unhealthy", payload=sending.payload(
                                    rule.name, rule.kind, rule.endpoint.name, "web-1 became unhealthy",
                                    {"id": "c" * 64, "name": "web-1", "image": "busybox"}, timezone.now()))
    Delivery.objects.filter(pk=d.pk).update(created_at=timezone.now() - age, **fields)
    d.refresh_from_db()
    return d


def test_a_notification_is_mailed_through_a_real_smtp_server(endpoint, settings) -> None:  # type: ignore[no-untyped-def]
    with SmtpReceiver(auth=("berth", "s3cret-pass")) as smtp:
        smtp_settings(settings, smtp.port, user="berth", password="s3cret-pass")
        d = pending(email_rule(endpoint))
        assert tasks.deliver.run(d.pk) == Delivery.SENT
        got = smtp.wait_for(lambda m: "web-1" in m.subject)
    assert got.subject == "[Berth] web-1 became unhealthy"
    assert got.recipients == ["ops@example.com", "dev@example.com"] and got.sender == "berth@test.invalid"
    assert got.login == "berth" and "Container: web-1" in got.body and f"Endpoint: {endpoint.name}" in got.body
    d.refresh_from_db()
    assert d.attempts == 1 and d.sent_at is not None and d.error == ""


def test_an_smtp_refusal_is_retried_with_the_servers_words_then_failed(endpoint, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with SmtpReceiver(reject_with="451 4.3.0 mailbox busy, try later") as smtp:
        smtp_settings(settings, smtp.port)
        d = pending(email_rule(endpoint))
        monkeypatch.setattr(tasks.deliver, "retry", lambda countdown: RuntimeError(f"retry in {countdown}"))
        with pytest.raises(RuntimeError, match="retry in 5"):
            tasks.deliver.run(d.pk)
        d.refresh_from_db()
        assert d.status == Delivery.RETRYING and "mailbox busy, try later" in d.error
        assert d.next_attempt_at is not None and d.next_attempt_at > timezone.now()
        Delivery.objects.filter(pk=d.pk).update(attempts=sending.MAX_ATTEMPTS - 1)
        assert tasks.deliver.run(d.pk) == Delivery.FAILED


def test_locmem_backend_and_a_delivery_is_sent_once(endpoint, settings) -> None:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    d = pending(email_rule(endpoint, "one@example.com"))
    assert tasks.deliver.run(d.pk) == Delivery.SENT
    assert tasks.deliver.run(d.pk) == Delivery.SENT  # a second copy of the message sends nothing
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["one@example.com"]
    Delivery.objects.filter(pk=d.pk).update(status=Delivery.SENDING)  # another worker holds it
    assert tasks.deliver.run(d.pk) == Delivery.SENDING and len(mail.outbox) == 1


def test_the_sweep_resends_what_a_dead_worker_or_a_lost_message_left(endpoint, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with WebhookReceiver() as receiver:
        sweep_and_check(endpoint, receiver, monkeypatch)


def sweep_and_check(endpoint, receiver: WebhookReceiver, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(tasks, "dispatch", lambda d: tasks.deliver.run(d.pk))  # as a worker would, at once
    rule = Rule.objects.create(endpoint=endpoint, name="hook", kind="unhealthy", webhook_url=receiver.url)
    now = timezone.now()
    crashed = pending(rule, timedelta(minutes=10), status=Delivery.SENDING, attempted_at=now - timedelta(minutes=6))
    lost = pending(rule, timedelta(minutes=5))  # never picked up
    late = pending(rule, timedelta(minutes=9), status=Delivery.RETRYING, attempts=1, next_attempt_at=now - timedelta(minutes=5))
    on_time = pending(rule, timedelta(minutes=9), status=Delivery.RETRYING, attempts=1, next_attempt_at=now + timedelta(minutes=1))
    busy = pending(rule, timedelta(minutes=3), status=Delivery.SENDING, attempted_at=now - timedelta(seconds=20))

    assert tasks.sweep.run() == {"resent": 3, "failed": 0}
    for d, attempts in ((crashed, 2), (lost, 1), (late, 2)):
        d.refresh_from_db()
        assert (d.status, d.attempts) == (Delivery.SENT, attempts)
    for d in (on_time, busy):
        before = d.status
        d.refresh_from_db()
        assert d.status == before  # on schedule: left alone
    assert len(receiver.got) == 3


def test_the_sweep_fails_what_has_no_attempts_or_time_left_and_says_why(endpoint, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    sent: list[int] = []
    monkeypatch.setattr(tasks, "dispatch", lambda d: sent.append(d.pk))
    rule = Rule.objects.create(endpoint=endpoint, name="hook", kind="unhealthy", webhook_url="http://127.0.0.1:9/")
    now = timezone.now()
    last = pending(rule, timedelta(minutes=30), status=Delivery.SENDING, attempts=sending.MAX_ATTEMPTS - 1,
                   attempted_at=now - timedelta(minutes=10), error="the webhook answered 503")
    old = pending(rule, timedelta(days=2), status=Delivery.RETRYING, attempts=2, error="could not reach the webhook: refused",
                  next_attempt_at=now - timedelta(days=1))
    assert tasks.sweep.run() == {"resent": 0, "failed": 2} and sent == []
    last.refresh_from_db()
    old.refresh_from_db()
    assert last.status == Delivery.FAILED and last.attempts == sending.MAX_ATTEMPTS
    assert last.error.startswith(f"Not sent after {sending.MAX_ATTEMPTS} attempts: the worker sending it stopped mid-way")
    assert old.status == Delivery.FAILED and "Not sent within 24 h" in old.error and "Last error: could not reach" in old.error
    assert "notifications.sweep" in tasks.app.conf.beat_schedule


def test_timing_rules_are_pure() -> None:
    now = timezone.now()
    d = Delivery(status=Delivery.RETRYING, attempts=2, created_at=now - timedelta(minutes=3), attempted_at=now - timedelta(seconds=30))
    assert sweeper.due(d) == d.attempted_at + timedelta(seconds=20)
    assert sweeper.stuck_reason(d, now) == ""
    assert "no worker made it" in sweeper.stuck_reason(d, now + timedelta(minutes=3))


@pytest.mark.parametrize(("env", "words"), [
    ({"EMAIL_PORT": "smtp"}, "EMAIL_PORT='smtp': expected a port number"),
    ({"EMAIL_USE_TLS": "1", "EMAIL_USE_SSL": "1"}, "set one of them, not both"),
    ({"EMAIL_BACKEND": "not a backend"}, "EMAIL_BACKEND='not a backend'"),
    ({"DEFAULT_FROM_EMAIL": "nobody"}, "DEFAULT_FROM_EMAIL='nobody'"),
    ({"EMAIL_TIMEOUT": "-1"}, "EMAIL_TIMEOUT='-1'"),
])
def test_bad_email_settings_stop_the_console_naming_the_variable(env, words, tmp_path) -> None:  # type: ignore[no-untyped-def]
    done = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=REPO, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "console.settings",
                               "BERTH_VAR_DIR": str(tmp_path), **env}, timeout=60)
    assert done.returncode != 0 and words in done.stderr, done.stderr[-2000:]


def test_email_settings_come_from_the_environment(tmp_path) -> None:
    code = ("import django; django.setup(); from django.conf import settings as s; "
            "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_USE_SSL, s.EMAIL_TIMEOUT, s.DEFAULT_FROM_EMAIL)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, env={
        "PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "console.settings", "BERTH_VAR_DIR": str(tmp_path),
        "EMAIL_BACKEND": "console", "EMAIL_HOST": "mail.example.com", "EMAIL_PORT": "465", "EMAIL_HOST_USER": "berth",
        "EMAIL_HOST_PASSWORD": "x", "EMAIL_USE_SSL": "yes", "EMAIL_TIMEOUT": "7", "DEFAULT_FROM_EMAIL": "Berth <b@example.com>"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["django.core.mail.backends.console.EmailBackend", "mail.example.com", "465", "berth",
                                   "True", "7.0", "Berth", "<b@example.com>"]


def test_a_first_watcher_starts_when_the_first_rule_was_made(endpoint) -> None:  # type: ignore[no-untyped-def]
    """Events between adding a rule and the supervisor noticing it (up to RELOAD_SECONDS) still notify."""
    import time

    from console.notifications.models import Watch
    from console.notifications.watcher import RESUME_WINDOW, resume_from

    now = time.time()
    assert resume_from(endpoint.pk, now) == now  # no rule, no watch: from now
    rule = Rule.objects.create(endpoint=endpoint, name="r", webhook_url="http://127.0.0.1:9/")
    Rule.objects.filter(pk=rule.pk).update(created_at=timezone.now() - timedelta(seconds=8))
    assert now - 9 < resume_from(endpoint.pk, now) < now - 7
    Rule.objects.filter(pk=rule.pk).update(created_at=timezone.now() - timedelta(seconds=RESUME_WINDOW + 60))
    assert resume_from(endpoint.pk, now) == now  # too long ago: not replayed
    Watch.objects.create(endpoint=endpoint, last_event=now - 30)
    assert resume_from(endpoint.pk, now) == now - 30  # a predecessor's mark wins
