"""Progress of a running job: held in memory, written to the database, published to browsers.

`Progress` is what a handler changes (through JobContext), under a lock. `Reporter` is one thread per
running job that, every PUBLISH_INTERVAL seconds, takes what changed, writes it to the Job row —
only while this run still owns the job (state RUNNING and the same `runs`) — and then publishes it
on the channel layer. Writing before publishing is the contract browsers rely on (events.py). The
thread also refreshes the heartbeat and notices cancel requests. `Publisher` owns one event loop for
the channel layer, so a job's messages share one Redis connection.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from channels.layers import get_channel_layer
from django.db import DatabaseError, connection
from django.utils import timezone

from console.jobs import events
from console.jobs.models import LOG_DROPPED, MAX_LOG_CHARS, Job

log = logging.getLogger(__name__)

PUBLISH_INTERVAL = 0.5  # seconds between writes/publications while something changes
LIST_INTERVAL = 1.0  # seconds between progress messages to the list groups (state changes go at once)
HEARTBEAT_INTERVAL = 5.0  # seconds between heartbeats when nothing changes
CANCEL_CHECK_INTERVAL = 1.0
KEEP: Any = object()  # "leave this value as it is"


def bounded_log(text: str, limit: int = MAX_LOG_CHARS) -> str:
    """`text` if it fits in `limit` characters; else its tail (three quarters of the limit, from a line
    start when there is one) after a marker line saying that earlier output was dropped."""
    if len(text) <= limit:
        return text
    tail = text[-(limit * 3 // 4):]
    cut = tail.find("\n")
    if 0 <= cut < len(tail) - 1:
        tail = tail[cut + 1:]
    return LOG_DROPPED + tail


@dataclass
class Snapshot:
    """What changed since the last take: fields for the Job row and the new log text."""

    fields: dict[str, Any]
    log_text: str
    log_offset: int


class Progress:
    """A running job's live state. Thread-safe; `take()` hands out what changed."""

    def __init__(self, job: Job) -> None:
        self.lock = threading.Lock()
        self.fraction: float | None = job.progress
        self.status = job.status_text
        self.items: dict[str, dict[str, Any]] = {str(i.get("id")): dict(i) for i in job.items or [] if isinstance(i, dict)}
        self.log = job.log
        self.log_length = job.log_length
        self.pending = ""
        self.pending_offset = job.log_length
        self.dirty = False

    def write(self, text: str) -> None:
        if not text:
            return
        with self.lock:
            if not self.pending:
                self.pending_offset = self.log_length
            self.pending += text
            self.log = bounded_log(self.log + text)
            self.log_length += len(text)
            self.dirty = True

    def set(self, fraction: Any = KEEP, status: str | None = None) -> None:
        """Change the overall fraction (a number, clamped to 0..1; None: unknown; KEEP: as it is) and/or
        the status line (None: as it is)."""
        with self.lock:
            if fraction is not KEEP:
                self.fraction = None if fraction is None else max(0.0, min(1.0, float(fraction)))
            if status is not None:
                self.status = status[:300]
            self.dirty = True

    def set_item(self, key: str, fields: dict[str, Any]) -> None:
        with self.lock:
            item = self.items.setdefault(key, {"id": key, "label": key, "status": "", "current": None, "total": None})
            item.update({k: v for k, v in fields.items() if v is not None})
            self.dirty = True

    def untake(self, snap: Snapshot) -> None:
        """Put a snapshot that could not be written back, so the next take includes it again."""
        with self.lock:
            if snap.log_text:
                self.pending = snap.log_text + self.pending
                self.pending_offset = snap.log_offset
            self.dirty = True

    def take(self) -> Snapshot | None:
        with self.lock:
            if not self.dirty:
                return None
            snap = Snapshot({"progress": self.fraction, "status_text": self.status, "items": list(self.items.values()),
                             "log": self.log, "log_length": self.log_length}, self.pending, self.pending_offset)
            self.pending, self.dirty = "", False
            return snap


class Publisher:
    """Sends channel-layer messages from sync code through one private event loop (not thread-safe:
    one thread at a time). Failures are logged, never raised: progress is best-effort, the row is truth."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.loop = asyncio.new_event_loop()

    def send(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        if self.layer is None or not messages:
            return
        try:
            self.loop.run_until_complete(self._send(messages))
        except Exception as exc:  # Redis away: the page still shows the row on reload
            log.warning("job progress not published: %s", exc)

    async def _send(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        for group, message in messages:
            await self.layer.group_send(group, message)

    def close(self) -> None:
        """Close the loop; channels_redis then closes this loop's connections (and only those: its
        close_pools() would close every loop's, including the consumers' in the same process)."""
        try:
            self.loop.close()
        except Exception as exc:
            log.debug("closing the publisher's loop: %s", exc)


class Reporter(threading.Thread):
    """Writes and publishes a running job's progress; see the module docstring.

    `on_cancel` is called (once) when the job's row asks for a cancel; `on_lost` when the row no longer
    belongs to this run (another run took over, or the job was ended elsewhere).
    """

    def __init__(self, job: Job, progress: Progress, publisher: Publisher, on_cancel: Callable[[], None],
                 on_lost: Callable[[], None]) -> None:
        super().__init__(name=f"job-{job.pk}-reporter", daemon=True)
        self.job, self.progress, self.publisher = job, progress, publisher
        self.on_cancel, self.on_lost = on_cancel, on_lost
        self.stopping = threading.Event()
        self.cancel_seen = False
        self.last_write = self.last_list = self.last_cancel_check = time.monotonic()

    def run(self) -> None:
        try:
            while not self.stopping.wait(PUBLISH_INTERVAL):
                try:
                    self.tick()
                except DatabaseError as exc:  # busy, locked or dropped: the next tick writes it all, anew
                    log.warning("job %s: progress not written this time: %s", self.job.pk, exc)
                    connection.close()
        finally:
            connection.close()  # this thread's own database connection

    def stop(self) -> None:
        self.stopping.set()
        self.join(30)

    def owned_rows(self) -> Any:
        return Job.objects.filter(pk=self.job.pk, runs=self.job.runs, state=Job.RUNNING)

    def tick(self) -> None:
        now = time.monotonic()
        snap = self.progress.take()
        if snap is not None or now - self.last_write >= HEARTBEAT_INTERVAL:
            fields = dict(snap.fields) if snap else {}
            try:
                written = self.owned_rows().update(heartbeat_at=timezone.now(), **fields)
            except DatabaseError:
                if snap is not None:
                    self.progress.untake(snap)
                raise
            if not written:
                self.on_lost()
                self.stopping.set()
                return
            self.last_write = now
        if snap is not None:
            for name, value in snap.fields.items():
                setattr(self.job, name, value)
            to_lists = now - self.last_list >= LIST_INTERVAL
            if to_lists:
                self.last_list = now
            self.publisher.send(events.messages_for(self.job, snap.log_text, snap.log_offset, to_lists))
        if not self.cancel_seen and now - self.last_cancel_check >= CANCEL_CHECK_INTERVAL:
            self.last_cancel_check = now
            if Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists():
                self.cancel_seen = True
                self.on_cancel()
