"""Helpers for websocket tests (the fixtures `endpoint` and `run_busybox` are in conftest.py).

- `communicator(path, user)`: a Channels WebsocketCommunicator on console.asgi.application, authenticated
  with a real session of `user` (None: anonymous), as a browser on 127.0.0.1 would be; drive it with
  `connect`, `receive_json_until`, `close_code` inside one async scenario run by `run()`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from console.asgi import application


def session_cookie(user: Any) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def communicator(path: str, user: Any = None) -> WebsocketCommunicator:
    """Make it in sync code (it reads the session from the database); drive it inside ONE async function
    run with async_to_sync — a communicator belongs to the event loop it first ran on."""
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    if user is not None:
        headers.append((b"cookie", session_cookie(user)))
    return WebsocketCommunicator(application, path, headers=headers)


async def connect(comm: WebsocketCommunicator) -> None:
    connected, _ = await comm.connect(timeout=10)
    assert connected


async def close_code(comm: WebsocketCommunicator, timeout: float = 10) -> int | None:
    """The code of the close the consumer sends next (skipping messages before it)."""
    while True:
        out = await comm.receive_output(timeout)
        if out["type"] == "websocket.close":
            return out.get("code")


async def receive_json_until(comm: WebsocketCommunicator, predicate: Callable[[dict], bool], timeout: float = 20,
                             on_message: Callable[[dict], Any] | None = None) -> list[dict]:
    """Every JSON message received until one satisfies `predicate` (AssertionError on timeout or close).

    `on_message` may be a coroutine function (awaited), e.g. to acknowledge log batches.
    """
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no matching message within {timeout}s; got {got[-5:]}"
        try:
            out = await comm.receive_output(left)
        except TimeoutError:
            raise AssertionError(f"no matching message within {timeout}s; got {got[-5:]}") from None
        assert out["type"] == "websocket.send", f"socket closed: {out}; got {got[-5:]}"
        if out.get("text") is None:
            continue
        message = json.loads(out["text"])
        got.append(message)
        if on_message is not None:
            result = on_message(message)
            if hasattr(result, "__await__"):
                await result
        if predicate(message):
            return got


def run(scenario: Callable[[], Any]) -> Any:
    """Run an async test scenario to its end in one event loop."""
    return async_to_sync(scenario)()
