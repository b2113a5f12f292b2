"""Notifications: rules (pure matching, the form), sending (a webhook receiver on 127.0.0.1, e-mail through Django's
locmem backend), and the watcher end to end: a container whose health check fails becomes unhealthy on the real
engine, and the notification arrives at the receiver."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse

from console.audit.models import Activity
from console.notifications import delivery as sending
from console.notifications.matching import Matcher, RuleView
from console.notifications.models import Delivery, Rule, Watch
from console.notifications.watcher import EndpointWatcher, Supervisor


class Receiver:
    """A webhook receiver on 127.0.0.1: records each POST's JSON; answers `status`."""

    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                receiver.got.append({"body": json.loads(self.rfile.read(length)), "headers": dict(self.headers)})
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"nope" if receiver.status >= 400 else b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook/secret-token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def wait_for(self, predicate: Any, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in self.got:
                if predicate(item["body"]):
                    return item["body"]
            time.sleep(0.1)
        raise AssertionError(f"nothing matching arrived within {timeout}s; got {self.got}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def event(action: str, cid: str = "c1", when: float = 1000.0, **attributes: str) -> dict[str, Any]:
    return {"Type": "container", "Action": action, "Actor": {"ID": cid, "Attributes": {"name": "web", "image": "busybox",
                                                                                       **attributes}},
            "time": int(when), "timeNano": int(when * 1e9)}


# ---- matching (pure) ---------------------------------------------------------------------------------------


def test_unhealthy_and_nonzero_deaths_fire_but_a_requested_stop_does_not() -> None:
    m = Matcher("local")
    rules = [RuleView(1, "health", "unhealthy"), RuleView(2, "deaths", "died")]
    assert [f.kind for f in m.feed(event("health_status: unhealthy"), rules)] == ["unhealthy"]
    assert m.feed(event("health_status: healthy"), rules) == []
    fired = m.feed(event("die", exitCode="3", when=1001), rules)
    assert [(f.kind, f.message) for f in fired] == [("died", "web on local died with exit code 3")]
    assert m.feed(event("die", exitCode="0", when=1002), rules) == []
    m.feed(event("kill", when=1010, signal="15"), rules)
    assert m.feed(event("die", exitCode="143", when=1011), rules) == []  # a person stopped it
    assert len(m.feed(event("die", exitCode="1", when=1100), rules)) == 1  # long after: a real death


def test_a_restart_loop_fires_once_per_n_deaths_within_the_window() -> None:
    m = Matcher("local")
    rules = [RuleView(7, "loop", "restart_loop", restart_count=3, restart_window=1)]
    assert m.feed(event("die", exitCode="1", when=0), rules) == []
    assert m.feed(event("die", exitCode="1", when=70), rules) == []  # the first fell out of the minute
    assert m.feed(event("die", exitCode="1", when=80), rules) == []
    fired = m.feed(event("die", exitCode="0", when=90), rules)
    assert [f.message for f in fired] == ["web on local died 3 times within 1 minutes"]
    assert m.feed(event("die", exitCode="1", when=95), rules) == []  # counting starts afresh


def test_labels_filter_and_helpers_are_ignored() -> None:
    m = Matcher("local")
    rules = [RuleView(1, "prod web", "unhealthy", labels={"env": "prod", "tier": ""})]
    assert m.feed(event("health_status: unhealthy", env="prod"), rules) == []
    assert len(m.feed(event("health_status: unhealthy", env="prod", tier="web"), rules)) == 1
    assert m.feed(event("health_status: unhealthy", env="dev", tier="web"), rules) == []
    assert m.feed(event("health_status: unhealthy", env="prod", tier="web", **{"berth.console.helper": "browse"}), rules) == []


def test_the_same_event_has_the_same_key() -> None:
    m = Matcher("local")
    rules = [RuleView(1, "r", "unhealthy")]
    first = m.feed(event("health_status: unhealthy"), rules)[0]
    again = m.feed(event("health_status: unhealthy"), rules)[0]
    assert first.key == again.key


# ---- the form and the pages --------------------------------------------------------------------------------


def rule_form(**fields: object) -> dict[str, object]:
    return {"name": "Web unhealthy", "kind": "unhealthy", "label_filter": "", "restart_count": 3, "restart_window": 5,
            "channel": "webhook", "webhook_url": "http://127.0.0.1:9/hook", "email_to": "", "enabled": "on", **fields}


@pytest.mark.django_db
@pytest.mark.parametrize("fields, field, words", [
    ({"webhook_url": "ftp://127.0.0.1/x"}, "webhook_url", "http:// or https://"),
    ({"webhook_url": "file:///etc/passwd"}, "webhook_url", "http:// or https://"),
    ({"webhook_url": "http:///nohost"}, "webhook_url", "needs a host"),
    ({"webhook_url": "http://127.0.0.1:99999/"}, "webhook_url", "port"),
    ({"webhook_url": ""}, "webhook_url", "where should"),
    ({"channel": "email", "email_to": "ops@example.com, nope"}, "email_to", "not an e-mail address: nope"),
    ({"channel": "email", "email_to": ""}, "email_to", "who should"),
    ({"kind": "restart_loop", "restart_count": 1}, "restart_count", "between 2 and 100"),
    ({"kind": "restart_loop", "restart_window": 0}, "restart_window", "between 1 and 1440"),
    ({"label_filter": "has space=1"}, "label_filter", "key=value"),
    ({"name": "  "}, "name", "required"),
])
def test_bad_rules_get_per_field_errors_and_nothing_is_saved(admin_client, endpoint, fields, field, words) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.post(reverse("notifications:create", kwargs={"eid": endpoint.pk}), rule_form(**fields))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert words in " ".join(errors.get(field, [])), errors
    assert not Rule.objects.exists()


@pytest.mark.django_db
def test_a_rule_is_added_listed_tested_and_deleted(admin_client, endpoint, receiver) -> None:  # type: ignore[no-untyped-def]
    base = {"eid": endpoint.pk}
    response = admin_client.post(reverse("notifications:create", kwargs=base),
                                 rule_form(webhook_url=receiver.url, label_filter="env=prod\ntier"))
    assert response.status_code == 302
    rule = Rule.objects.get()
    assert rule.label_filter == {"env": "prod", "tier": ""} and rule.created_by is not None
    entry = Activity.objects.get(action="notification.rule.create")
    assert "secret-token" not in json.dumps(entry.details)  # the URL's path may be a credential

    page = admin_client.get(reverse("notifications:list", kwargs=base)).content.decode()
    assert "Web unhealthy" in page and "env=prod" in page and "secret-token" not in page
    assert "The event watcher is not running" in page

    response = admin_client.post(reverse("notifications:test", kwargs={**base, "rid": rule.pk}), follow=True)
    assert "Sent a test notification" in " ".join(str(m) for m in response.context["messages"])
    body = receiver.wait_for(lambda b: b["test"])
    assert body["rule"] == "Web unhealthy" and body["endpoint"] == endpoint.name and body["kind"] == "unhealthy"
    assert receiver.got[0]["headers"]["Content-Type"] == "application/json"
    assert Delivery.objects.get().status == Delivery.SENT

    receiver.status = 500
    response = admin_client.post(reverse("notifications:test", kwargs={**base, "rid": rule.pk}), follow=True)
    assert "the webhook answered 500: nope" in " ".join(str(m) for m in response.context["messages"])
    failed = Delivery.objects.filter(status=Delivery.FAILED).get()
    assert failed.attempts == 1 and failed.error == "the webhook answered 500: nope"
    sent = admin_client.get(reverse("notifications:deliveries", kwargs=base)).content.decode()
    assert "the webhook answered 500: nope" in sent and "failed" in sent

    assert admin_client.post(reverse("notifications:delete", kwargs={**base, "rid": rule.pk})).status_code == 302
    assert not Rule.objects.exists() and Delivery.objects.count() == 2  # the record of what was sent stays


@pytest.mark.django_db
def test_email_rules_send_through_djangos_mail_backend(endpoint, settings) -> None:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    rule = Rule.objects.create(endpoint=endpoint, name="mail me", kind="died", channel="email", email_to="a@example.com, b@example.com")
    delivery = sending.send_test(rule)
    assert delivery.status == Delivery.SENT
    assert mail.outbox[0].to == ["a@example.com", "b@example.com"]
    assert mail.outbox[0].subject.startswith("[Berth] Test: ")


@pytest.mark.django_db
def test_an_unreachable_webhook_is_retried_then_failed(endpoint, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from console.notifications import tasks

    rule = Rule.objects.create(endpoint=endpoint, name="r", webhook_url="http://127.0.0.1:9/nothing-listens")
    d = Delivery.objects.create(rule=rule, endpoint=endpoint, rule_name="r", kind="unhealthy", channel="webhook",
                                message="m", payload={"message": "m"})
    monkeypatch.setattr(tasks.deliver, "retry", lambda countdown: RuntimeError(f"retry in {countdown}"))
    with pytest.raises(RuntimeError, match="retry in 5"):
        tasks.deliver.run(d.pk)
    d.refresh_from_db()
    assert d.status == Delivery.RETRYING and d.attempts == 1 and "could not reach the webhook" in d.error
    d.attempts = sending.MAX_ATTEMPTS - 1
    d.save()
    assert tasks.deliver.run(d.pk) == Delivery.FAILED
    assert [tasks.backoff(n) for n in (1, 2, 3, 4, 9)] == [5, 20, 60, 300, 300]


# ---- the watcher, end to end -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_unhealthy_container_notifies_the_webhook(endpoint, receiver, run_busybox) -> None:  # type: ignore[no-untyped-def]
    tag = secrets.token_hex(3)
    Rule.objects.create(endpoint=endpoint, name="unhealthy web", kind="unhealthy", label_filter={"app": tag},
                        webhook_url=receiver.url)
    Rule.objects.create(endpoint=endpoint, name="other app", kind="unhealthy", label_filter={"app": "other"},
                        webhook_url=receiver.url)
    watcher = EndpointWatcher(endpoint.pk, dispatch=lambda d: sending.attempt(d)).start()
    try:
        deadline = time.monotonic() + 10
        while not watcher.healthy and time.monotonic() < deadline:
            time.sleep(0.05)
        assert Watch.objects.get(endpoint=endpoint).state == Watch.WATCHING
        name = f"sick-{tag}"
        cid = run_busybox("sleep", "120", name=name, args=(
            "--label", f"app={tag}", "--health-cmd", "exit 1", "--health-interval", "1s", "--health-retries", "1"))
        body = receiver.wait_for(lambda b: b["container"].get("id") == cid, timeout=60)
    finally:
        watcher.stop()
    assert body["kind"] == "unhealthy" and body["rule"] == "unhealthy web" and not body["test"]
    assert body["message"] == f"{name} on {endpoint.name} became unhealthy"
    assert body["container"] == {"id": cid, "name": name, "image": "busybox"}
    sent = Delivery.objects.get(container_id=cid)
    assert sent.status == Delivery.SENT and sent.rule_name == "unhealthy web"
    assert len([g for g in receiver.got if g["body"]["container"].get("id") == cid]) == 1


@pytest.mark.django_db(transaction=True)
def test_the_supervisor_watches_only_endpoints_with_enabled_rules(endpoint) -> None:  # type: ignore[no-untyped-def]
    supervisor = Supervisor(dispatch=lambda d: None)
    try:
        supervisor.sync()
        assert supervisor.watchers == {}
        rule = Rule.objects.create(endpoint=endpoint, name="r", webhook_url="http://127.0.0.1:9/")
        supervisor.sync()
        assert list(supervisor.watchers) == [endpoint.pk]
        rule.enabled = False
        rule.save()
        supervisor.sync()
        assert supervisor.watchers == {}
    finally:
        supervisor.stop_all()


@pytest.mark.django_db
def test_a_replayed_event_notifies_once_and_a_new_watcher_resumes_where_the_last_stopped(endpoint) -> None:  # type: ignore[no-untyped-def]
    sent: list[Delivery] = []
    Rule.objects.create(endpoint=endpoint, name="r", kind="died", webhook_url="http://127.0.0.1:9/")
    Watch.objects.create(endpoint=endpoint, state=Watch.WATCHING)
    now = time.time()
    watcher = EndpointWatcher(endpoint.pk, dispatch=sent.append, since=now - 30)
    from console.notifications.matching import Matcher

    watcher.matcher = Matcher(endpoint.name)
    death = event("die", cid="c" * 64, when=now - 20, exitCode="2")
    watcher.handle(endpoint, death)
    watcher.handle(endpoint, death)  # seen: skipped here
    other = EndpointWatcher(endpoint.pk, dispatch=sent.append, since=now - 30)
    other.matcher = Matcher(endpoint.name)
    other.handle(endpoint, death)  # a fresh watcher replaying it: the database refuses the second record
    assert len(sent) == 1 and sent[0].message == f"web on {endpoint.name} died with exit code 2"
    assert Watch.objects.get(endpoint=endpoint).last_event == pytest.approx(now - 20)
    assert EndpointWatcher(endpoint.pk).since == pytest.approx(now - 20)  # resumes after the last event noted
