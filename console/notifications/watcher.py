"""The watcher: follows each endpoint's engine events and fires its notification rules.

`Supervisor` keeps one `EndpointWatcher` (a thread) per endpoint that has an
enabled rule, checking every RELOAD_SECONDS; `manage.py watch_events` runs it
(scripts/up.sh starts that command, scripts/down.sh stops it).

An EndpointWatcher holds one `GET /events?filters={"type":["container"]}`
stream. When the stream fails or ends, it says why (the `Watch` row the
notifications page shows) and reconnects after a back-off that doubles up to
MAX_BACKOFF, asking for the events since the last one it saw — so a short
outage loses nothing; a watcher that starts again (the command was restarted)
resumes after the last event its predecessor noted (Watch.last_event), and one
watching an endpoint for the first time starts when its first rule was made. Events seen twice are skipped here (a bounded memory of
event keys) and, for good measure, by Delivery.event_key being unique. Rules
are re-read at most every RULES_TTL seconds. Each firing becomes a Delivery
and is handed to `dispatch` (the Celery task by default). The supervisor also
touches the Watch rows of healthy watchers, so the page can tell a watcher
that stopped running from one that is quiet.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from django.db import close_old_connections
from django.utils import timezone

from console.endpoints.client import EngineError, endpoint_client
from console.endpoints.models import Endpoint
from console.notifications.delivery import record_firing
from console.notifications.matching import Matcher, RuleView, event_key, event_time
from console.notifications.models import Delivery, Rule, Watch

log = logging.getLogger(__name__)

RELOAD_SECONDS = 10.0
RULES_TTL = 5.0
MAX_BACKOFF = 60.0
SEEN_KEYS = 4096
HEARTBEAT_STALE = 60.0
RESUME_WINDOW = 3600.0  # a watcher that starts again catches up on the events of at most this many seconds
SAVE_EVERY = 5.0  # seconds between writes of the last event's time  # seconds without a heartbeat after which the page says the watcher is not running

Dispatch = Callable[[Delivery], None]


def default_dispatch(delivery: Delivery) -> None:
    from console.notifications.tasks import dispatch

    dispatch(delivery)


def set_watch(endpoint_id: int, state: str, message: str = "") -> None:
    with contextlib.suppress(Exception):  # the page's hint must never stop the watcher
        Watch.objects.update_or_create(endpoint_id=endpoint_id, defaults={"state": state, "message": message[:2000]})


def resume_from(endpoint_id: int, now: float) -> float:
    """Where a new watcher starts: after the last event an earlier one handled; for an endpoint watched for the
    first time, when its first enabled rule was made (the supervisor notices new rules only every RELOAD_SECONDS,
    and what happens meanwhile must still notify) — each within RESUME_WINDOW; else now."""
    last = Watch.objects.filter(endpoint_id=endpoint_id).values_list("last_event", flat=True).first()
    if last is None:
        first = Rule.objects.filter(endpoint_id=endpoint_id, enabled=True).order_by("created_at").values_list(
            "created_at", flat=True).first()
        last = first.timestamp() if first is not None else None
    return last if last is not None and now - RESUME_WINDOW < last <= now else now


class EndpointWatcher:
    def __init__(self, endpoint_id: int, dispatch: Dispatch = default_dispatch, since: float | None = None) -> None:
        self.endpoint_id = endpoint_id
        self.dispatch = dispatch
        self.since = since if since is not None else resume_from(endpoint_id, time.time())
        self.saved_since = self.since
        self.stopping = threading.Event()
        self.stream: Any = None
        self.seen: OrderedDict[str, None] = OrderedDict()
        self.rules: dict[int, Rule] = {}
        self.rules_at = 0.0
        self.matcher: Matcher | None = None
        self.healthy = False
        self.healthy_for = 0.0  # seconds the last stream lasted
        self.thread = threading.Thread(target=self.run, name=f"watch-endpoint-{endpoint_id}", daemon=True)

    def start(self) -> EndpointWatcher:
        self.thread.start()
        return self

    def stop(self, wait: float = 5.0) -> None:
        """Stop following (the blocking read ends when the stream is closed)."""
        self.stopping.set()
        stream = self.stream
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()
        if self.thread.is_alive() and threading.current_thread() is not self.thread:
            self.thread.join(wait)

    def run(self) -> None:
        backoff = 1.0
        while not self.stopping.is_set():
            endpoint = Endpoint.objects.filter(pk=self.endpoint_id).first()
            if endpoint is None:
                return
            problem = self.follow(endpoint)
            close_old_connections()
            if self.stopping.is_set():
                break
            if self.healthy_for > 30:  # it had been working: this is a fresh failure
                backoff = 1.0
            self.healthy = False
            log.info("events of %s: %s; again in %gs", endpoint.name, problem, backoff)
            set_watch(self.endpoint_id, Watch.RECONNECTING, f"{problem[:1].upper()}{problem[1:]}; trying again in {backoff:g} s.")
            self.stopping.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    def follow(self, endpoint: Endpoint) -> str:
        """Hold the event stream until it ends; why it ended."""
        started = time.monotonic()
        try:
            with endpoint_client(endpoint) as client:
                self.stream = client.api.events(since=int(self.since), filters={"type": ["container"]}, decode=True)
                if self.stopping.is_set():
                    self.stream.close()
                self.healthy = True
                set_watch(self.endpoint_id, Watch.WATCHING, "")
                self.matcher = self.matcher or Matcher(endpoint.name)
                for event in self.stream:
                    self.handle(endpoint, event)
            return "the engine's event stream ended"
        except EngineError as exc:
            return exc.message
        except Exception as exc:  # noqa: BLE001 - a broken stream mid-read: say so and reconnect
            return f"the engine's event stream failed: {exc}"
        finally:
            self.stream = None
            self.healthy_for = time.monotonic() - started
            if self.since > self.saved_since:  # note where a successor should resume
                with contextlib.suppress(Exception):
                    Watch.objects.filter(endpoint_id=self.endpoint_id).update(last_event=self.since)
                    self.saved_since = self.since

    def current_rules(self) -> dict[int, Rule]:
        if time.monotonic() - self.rules_at > RULES_TTL:
            close_old_connections()
            self.rules = {r.pk: r for r in Rule.objects.filter(endpoint_id=self.endpoint_id, enabled=True)}
            self.rules_at = time.monotonic()
        return self.rules

    def handle(self, endpoint: Endpoint, event: dict[str, Any]) -> None:
        """One event: skip it if seen, else fire the matching rules."""
        key = event_key(event)
        if key in self.seen:
            return
        self.seen[key] = None
        if len(self.seen) > SEEN_KEYS:
            self.seen.popitem(last=False)
        self.since = max(self.since, event_time(event))
        if self.since - self.saved_since > SAVE_EVERY:
            Watch.objects.filter(endpoint_id=self.endpoint_id).update(last_event=self.since)
            self.saved_since = self.since
        rules = self.current_rules()
        views = [RuleView(r.pk, r.name, r.kind, r.label_filter or {}, r.restart_count, r.restart_window) for r in rules.values()]
        assert self.matcher is not None
        for firing in self.matcher.feed(event, views):
            delivery = record_firing(endpoint, rules[firing.rule_id], firing)
            if delivery is not None:
                log.info("notification %s: %s", delivery.pk, firing.message)
                self.dispatch(delivery)


class Supervisor:
    """One EndpointWatcher per endpoint with an enabled rule, kept in line with the rules."""

    def __init__(self, dispatch: Dispatch = default_dispatch) -> None:
        self.dispatch = dispatch
        self.watchers: dict[int, EndpointWatcher] = {}

    def sync(self) -> None:
        close_old_connections()
        wanted = set(Rule.objects.filter(enabled=True).values_list("endpoint_id", flat=True))
        for eid in list(self.watchers):
            if eid not in wanted or not self.watchers[eid].thread.is_alive():
                self.watchers.pop(eid).stop()
                if eid not in wanted:
                    Watch.objects.filter(endpoint_id=eid).delete()
        for eid in wanted - set(self.watchers):
            self.watchers[eid] = EndpointWatcher(eid, self.dispatch).start()
        healthy = [eid for eid, w in self.watchers.items() if w.healthy]
        Watch.objects.filter(endpoint_id__in=healthy).update(updated_at=timezone.now())

    def run(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            try:
                self.sync()
            except Exception:  # the database went away for a moment: try again next round
                log.warning("could not check the notification rules", exc_info=True)
            stopping.wait(RELOAD_SECONDS)
        self.stop_all()

    def stop_all(self) -> None:
        for watcher in self.watchers.values():
            watcher.stop()
        self.watchers.clear()
