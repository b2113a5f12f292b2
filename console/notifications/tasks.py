"""The Celery task that sends a notification, retried with back-off; `dispatch()` queues one.

A delivery is attempted once per run (console/notifications/delivery.py
`attempt`); a failure that may pass (a timeout, a refused connection, a 5xx)
is retried after RETRY_DELAYS, at most MAX_ATTEMPTS attempts in all. When the
queue itself cannot be reached, `dispatch()` sends at once (one attempt), so a
notification is never silently dropped: it ends sent or failed, with the error.
A beat task (`sweep`, every sweeper.SWEEP_INTERVAL s) picks up deliveries a dead
worker or a lost message left waiting or "sending" past their schedule.
"""

from __future__ import annotations

import logging

from celery import shared_task

from console.celery import app
from console.notifications import sweeper
from console.notifications.delivery import MAX_ATTEMPTS, RETRY_DELAYS, attempt, backoff  # noqa: F401 - names used here and by tests
from console.notifications.models import Delivery

log = logging.getLogger(__name__)

DELIVER_TASK = "notifications.deliver"
SWEEP_TASK = "notifications.sweep"


@shared_task(name=DELIVER_TASK, bind=True, ignore_result=True, acks_late=True, max_retries=MAX_ATTEMPTS)
def deliver(self, delivery_id: int) -> str:  # type: ignore[no-untyped-def]
    """Attempt delivery `delivery_id` once; retry later if that may help. Returns its status."""
    delivery = Delivery.objects.select_related("rule", "endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status not in Delivery.WAITING:  # done, or another worker sends it now
        return delivery.status if delivery else "gone"
    outcome = attempt(delivery)
    if outcome.retry:
        raise self.retry(countdown=backoff(delivery.attempts))
    return delivery.status


def dispatch(delivery: Delivery) -> None:
    """Queue `delivery` for the workers; if the queue cannot be reached, send it now, once."""
    try:
        deliver.apply_async((delivery.pk,), retry=False)
    except Exception as exc:  # noqa: BLE001 - the broker is down or misconfigured: do not lose the notification
        log.warning("could not queue notification %s (%s); sending it now", delivery.pk, exc)
        attempt(delivery, final=True)


@shared_task(name=SWEEP_TASK, ignore_result=True)
def sweep() -> dict[str, int]:
    """Deliveries stuck past their retry schedule sent again or failed with the reason (console/notifications/sweeper.py)."""
    return sweeper.sweep(dispatch)


app.conf.beat_schedule = {
    **(app.conf.beat_schedule or {}),
    SWEEP_TASK: {"task": SWEEP_TASK, "schedule": sweeper.SWEEP_INTERVAL, "options": {"expires": sweeper.SWEEP_INTERVAL - 1}},
}
