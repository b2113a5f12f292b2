"""`manage.py watch_events`: follow every endpoint that has notification rules and send what they fire.

Runs until SIGTERM or SIGINT (then stops its streams and exits 0). scripts/up.sh
starts it in the background with a pidfile and scripts/down.sh stops it; the
watcher reconnects to engines by itself (console/notifications/watcher.py), so
it needs no restarting when an engine goes away and comes back.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand

from console.notifications.watcher import Supervisor

log = logging.getLogger("console.notifications")


class Command(BaseCommand):
    help = "Follow the endpoints' engine events and send the notifications their rules fire."

    def handle(self, *args: Any, **options: Any) -> None:
        stopping = threading.Event()

        def stop(signum: int, frame: Any) -> None:
            log.info("watch_events: stopping (signal %d)", signum)
            stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        log.info("watch_events: watching the endpoints that have notification rules")
        Supervisor().run(stopping)
        log.info("watch_events: stopped")
