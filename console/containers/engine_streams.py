"""Long-lived engine streams (logs, stats) that a websocket holds and can close from another thread.

The Docker SDK's streaming calls hide the HTTP response, so nothing could stop a
thread blocked reading a quiet `follow` stream. `open_stream()` makes the same
request through the SDK's low-level client and returns an `EngineStream` that
keeps the socket: `abort()` shuts it down, which wakes the reader at once.

`StreamThread` runs one such stream in a daemon thread for the life of a
websocket: it opens an endpoint client, opens the stream, hands every chunk of
bytes to `on_chunk` and calls `on_end` exactly once — with None after the
engine ended the stream, with a message a user can read after an error, and
not at all after `stop()` (the websocket is gone; nobody is listening).

The SDK's private helpers used here (`_get`, `_url`, `_raise_for_status`,
`_get_raw_response_socket`, `_disable_socket_timeout`) are the ones its own
`logs()`, `attach()` and `exec_start()` are built on.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import requests
import urllib3.exceptions

from console.endpoints.client import EngineError, endpoint_client
from console.observe.context import in_this_context

log = logging.getLogger("console.containers")

READ_SIZE = 1 << 16
STREAM_TIMEOUT = 30.0  # seconds for the engine to answer the request itself


def raw_socket(api: Any, response: requests.Response) -> socket.socket:
    """The socket under a response (or under an upgraded exec connection), with its timeout removed."""
    sock = api._get_raw_response_socket(response)
    api._disable_socket_timeout(sock)
    return getattr(sock, "_sock", sock)


class EngineStream:
    """A streaming HTTP response from an engine. Read it with `chunks()` in one thread; `abort()` from any."""

    def __init__(self, api: Any, response: requests.Response) -> None:
        self._response = response
        self._sock = raw_socket(api, response)

    def chunks(self) -> Iterator[bytes]:
        """The body as it arrives: one item per HTTP chunk (what the engine flushed), never waiting to fill a buffer."""
        raw = self._response.raw
        if raw.chunked:
            yield from raw.read_chunked(decode_content=False)
            return
        while data := raw.read1(READ_SIZE):
            yield data

    def abort(self) -> None:
        """Make a blocked `chunks()` return (or raise) now; safe to call twice and from another thread."""
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        self._response.close()


def open_stream(api: Any, path: str, container_id: str, params: dict[str, Any]) -> EngineStream:
    """GET `path` (formatted with the container's id) as a stream; the engine's error status raises APIError."""
    response = api._get(api._url(path, container_id), params=params, stream=True)
    api._raise_for_status(response)
    return EngineStream(api, response)


Opener = Callable[[Any], EngineStream]


class StreamThread:
    """One engine stream read in a daemon thread until it ends or `stop()` is called (see the module doc)."""

    def __init__(self, endpoint: object, opener: Opener, on_chunk: Callable[[bytes], None],
                 on_end: Callable[[str | None], None], name: str = "engine-stream") -> None:
        self._endpoint = endpoint
        self._opener = opener
        self._on_chunk = on_chunk
        self._on_end = on_end
        self._stream: EngineStream | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        # in_this_context: the stream's engine calls carry the websocket's request id (console/observe).
        self._thread = threading.Thread(target=in_this_context(self._run), name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Close the engine stream; `on_end` is not called afterwards."""
        self._stopped.set()
        with self._lock:
            if self._stream is not None:
                self._stream.abort()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        error: str | None = None
        try:
            with endpoint_client(self._endpoint, timeout=STREAM_TIMEOUT) as client:
                stream = self._opener(client.api)
                with self._lock:
                    self._stream = stream
                if self._stopped.is_set():
                    stream.abort()
                try:
                    for chunk in stream.chunks():
                        if self._stopped.is_set():
                            break
                        if chunk:
                            self._on_chunk(chunk)
                finally:
                    stream.close()
        except EngineError as exc:
            error = exc.message
        except (OSError, urllib3.exceptions.HTTPError, requests.RequestException) as exc:
            error = f"the engine stream broke: {exc}"
        except Exception:  # a bug in on_chunk: end the socket visibly rather than hang it
            log.exception("engine stream handler failed")
            error = "the console failed while reading the engine's stream"
        if not self._stopped.is_set():
            self._on_end(error)
