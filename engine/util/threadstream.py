"""Bridge blocking producers and consumers of bytes to asyncio streams, with back-pressure."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

_END = object()


class _QueueWriter:
    """A write-only file object whose writes go into a bounded queue."""

    def __init__(self, q: queue.Queue[Any], chunk: int = 1 << 20) -> None:
        self.q = q
        self.buf = bytearray()
        self.chunk = chunk
        self.cancelled = threading.Event()

    def write(self, data: bytes) -> int:
        if self.cancelled.is_set():
            raise BrokenPipeError("reader went away")
        self.buf += data
        if len(self.buf) >= self.chunk:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self.buf:
            self._put(bytes(self.buf))
            self.buf.clear()

    def _put(self, item: Any) -> None:
        while not self.cancelled.is_set():
            try:
                self.q.put(item, timeout=0.5)
                return
            except queue.Full:
                continue
        raise BrokenPipeError("reader went away")

    def tell(self) -> int:
        return 0


async def produce(fn: Callable[[Any], None]) -> AsyncIterator[bytes]:
    """Run `fn(fileobj)` in a thread and yield what it writes."""
    q: queue.Queue[Any] = queue.Queue(maxsize=8)
    writer = _QueueWriter(q)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn(writer)
            writer.flush()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer
            errors.append(exc)
        finally:
            try:
                writer._put(_END)
            except BrokenPipeError:
                pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        while True:
            item = await asyncio.to_thread(q.get)
            if item is _END:
                break
            yield item
        if errors:
            raise errors[0]
    finally:
        writer.cancelled.set()


async def spool(chunks: AsyncIterator[bytes], path: str) -> int:
    """Write an async byte stream to a file; returns its size."""
    size = 0
    with open(path, "wb") as f:  # noqa: ASYNC230 - writes of network-paced chunks to the page cache
        async for chunk in chunks:
            f.write(chunk)
            size += len(chunk)
    return size
