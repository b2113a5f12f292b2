"""`manage.py worker_ping`: the Celery worker's probe — exit 0 when a worker answers a ping, else 1.

    python manage.py worker_ping                       # any worker on the broker
    python manage.py worker_ping --node celery@%h      # the worker of this host (%h: its hostname)

The ping is Celery's remote control (`inspect ping`): the worker's main process
answers through the broker, so a worker that is stuck, gone, or cut off from
Redis fails it. The whole probe is bounded by --timeout (plus start-up), also
when the broker itself does not answer.
"""

from __future__ import annotations

import threading
from typing import Any

from celery.utils.nodenames import host_format
from django.core.management.base import BaseCommand, CommandError, CommandParser

from console.celery import app


class Command(BaseCommand):
    help = "Exit 0 when a Celery worker answers a ping within --timeout seconds, else 1."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--node", default="", help="the worker's node name, e.g. celery@%%h (%%h: this host); "
                                                       "default: any worker")
        parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for an answer (default 3)")

    def handle(self, *args: Any, node: str = "", timeout: float = 3.0, **options: Any) -> None:
        node = host_format(node) if node else ""
        replies = _ping(node, timeout)
        if isinstance(replies, BaseException):
            raise CommandError(f"no answer: the broker is not reachable ({type(replies).__name__})")
        answered = sorted(name for reply in replies or [] for name, value in reply.items() if value.get("ok") == "pong")
        if not answered:
            raise CommandError(f"no answer from {node or 'any worker'} within {timeout:g} s")
        self.stdout.write("pong from " + ", ".join(answered))


def _ping(node: str, timeout: float) -> list[dict[str, Any]] | BaseException | None:
    """Celery's ping, in a daemon thread so a broker that hangs cannot hold the probe past the timeout."""
    result: list[Any] = [None]

    def run() -> None:
        try:
            with app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
                result[0] = app.control.ping(destination=[node] if node else None, timeout=timeout, connection=conn)
        except Exception as exc:
            result[0] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout * 2 + 2)
    return result[0]
