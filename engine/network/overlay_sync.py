"""Following the cluster store: the engine's lease, its view of the keys, the watch, and the store's health.

`ClusterSync.run()` repeats rounds until cancelled. A round grants a lease, reads
every key under the prefix at one revision into a fresh `ClusterView`, lets the
listener bring local state in line (`on_resync`: local network records, this
engine's own keys under the new lease, the VXLAN entries), then follows a watch
from the next revision, handing each batch to `on_events`, while a keepalive
refreshes the lease every TTL/4. A round ends on any store failure (unreachable,
lease expired, watch compacted): `health` says why and since when (shown in
/info), and the next round starts after a back-off of 0.5 s doubling to 30 s
(back to 0.5 s once a round got going). Nothing local is torn down meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from typing import Protocol

from engine.network.cluster import PREFIX, ClusterView
from engine.network.etcd import EtcdClient, Event, StoreError, StoreUnavailable
from engine.util.timefmt import now_ns

log = logging.getLogger(__name__)
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0


class SyncListener(Protocol):
    async def on_resync(self) -> None: ...

    async def on_events(self, networks_changed: bool, peers_changed: set[str]) -> None: ...


@dataclass
class StoreHealth:
    up: bool = False
    error: str = "not connected yet"
    since_ns: int = field(default_factory=now_ns)


class LeaseExpired(StoreError):
    """The store forgot the engine's lease (it was away longer than the TTL): publish again."""


class _WatchThread:
    """One watch stream on its own thread, feeding an asyncio queue; `stop()` abandons it."""

    def __init__(self, client: EtcdClient, start_revision: int, queue: asyncio.Queue[list[Event] | BaseException]) -> None:
        self.client = client
        self.start_revision = start_revision
        self.queue = queue
        self.loop = asyncio.get_running_loop()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="etcd-watch", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()  # the thread notices at its next line or idle timeout, then ends

    def _post(self, item: list[Event] | BaseException) -> None:
        if self.stopped.is_set():
            return
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: the engine is exiting
            pass

    def _run(self) -> None:
        try:
            for batch in self.client.watch(PREFIX, self.start_revision, self.stopped):
                self._post(batch)
        except Exception as exc:  # noqa: BLE001 - handed to the round, which ends on it
            self._post(exc)


class ClusterSync:
    def __init__(self, client: EtcdClient, ttl: int, listener: SyncListener) -> None:
        self.client = client
        self.ttl = ttl
        self.listener = listener
        self.view = ClusterView()
        self.lease = 0
        self.health = StoreHealth()
        self.ready = asyncio.Event()  # set while a round is running (the view is current)
        self._round_started = False

    async def wait_ready(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self.ready.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def run(self) -> None:
        backoff = FIRST_BACKOFF
        while True:
            try:
                await self._round()
            except asyncio.CancelledError:
                raise
            except (StoreUnavailable, StoreError) as exc:
                self._down(str(exc))
            except Exception as exc:  # a bug must not stop the engine from trying again
                log.exception("cluster store sync failed")
                self._down(f"internal error: {exc}")
            if self._round_started:
                backoff = FIRST_BACKOFF
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _down(self, reason: str) -> None:
        self.ready.clear()
        if self.health.up or self.health.error != reason:
            log.warning("cluster store: %s (retrying)", reason)
        if self.health.up:
            self.health = StoreHealth(False, reason)
        else:
            self.health.error = reason

    async def _round(self) -> None:
        self._round_started = False
        lease = await asyncio.to_thread(self.client.grant, self.ttl)
        revision, kvs = await asyncio.to_thread(self.client.range, PREFIX, True)
        self.view = ClusterView.load(revision, kvs)
        self.lease = lease
        await self.listener.on_resync()
        self._round_started = True
        if not self.health.up:
            log.info("cluster store: connected (revision %d)", revision)
        self.health = StoreHealth(True, "")
        self.ready.set()
        queue: asyncio.Queue[list[Event] | BaseException] = asyncio.Queue()
        watch = _WatchThread(self.client, revision + 1, queue)
        watch.start()
        keepalive = asyncio.create_task(self._keepalive(lease, queue))
        try:
            while True:
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                networks_changed, peers_changed = self.view.apply(item)
                await self.listener.on_events(networks_changed, peers_changed)
        finally:
            watch.stop()
            keepalive.cancel()

    async def _keepalive(self, lease: int, queue: asyncio.Queue[list[Event] | BaseException]) -> None:
        try:
            while True:
                await asyncio.sleep(self.ttl / 4)
                if await asyncio.to_thread(self.client.keepalive, lease) <= 0:
                    raise LeaseExpired("the engine's lease expired; publishing its keys again")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - handed to the round, which ends on it
            queue.put_nowait(exc)
