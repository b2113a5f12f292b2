"""Streaming a helper's output to a browser without holding it in memory.

Under ASGI (Daphne), Django buffers a *sync* iterator whole before sending it
(StreamingHttpResponse warns and calls list() on it), which would put a volume
export in memory. `StreamBody` is therefore async-iterable only: each chunk is
pulled from the sync source in a worker thread (never the one thread Django
runs sync views in), and its closer runs when the response ends — completed,
failed or abandoned by the client. Django calls `close()` too; it runs once.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header


class StreamBody:
    def __init__(self, chunks: Iterator[bytes], closer: Callable[[], None]) -> None:
        self.chunks = chunks
        self.closer = closer
        self.lock = threading.Lock()
        self.closed = False

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
        self.closer()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        pull = sync_to_async(next, thread_sensitive=False)
        try:
            while (chunk := await pull(self.chunks, None)) is not None:
                yield chunk
        finally:
            await sync_to_async(self.close, thread_sensitive=False)()


def attachment(body: StreamBody, filename: str, content_type: str, size: int | None = None) -> StreamingHttpResponse:
    """A download response for `body` (Content-Disposition: attachment, with a safe file name)."""
    response = StreamingHttpResponse(body, content_type=content_type)
    response.headers["Content-Disposition"] = content_disposition_header(True, filename)
    if size is not None:
        response.headers["Content-Length"] = str(size)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response

