"""Long engine requests for image jobs: a streamed POST whose JSON lines are read as they come, and a
way to interrupt it from another thread (a job's Cancel).

The Docker SDK's pull/push/build return generators that hide their HTTP response, so nothing can
stop a read blocked on a silent engine (a build step that sleeps). Here the request goes through the
SDK's own session and URL building (`APIClient._post`, `_url`, `_raise_for_status`,
`_stream_helper` — stable for years across docker-py releases), and `interrupt(response)` shuts the
socket down, which wakes the reading thread.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
from collections.abc import Iterator
from typing import IO, Any

import docker
import docker.auth
import docker.errors
import requests
from docker.utils.json_stream import json_stream


def registry_auth_header(auth_config: dict[str, Any] | None) -> dict[str, str]:
    """X-Registry-Auth for pull/push: the credentials, or an empty object (anonymous)."""
    return {"X-Registry-Auth": docker.auth.encode_header(auth_config or {}).decode("ascii")}


def registry_config_header(configs: dict[str, dict[str, str]]) -> dict[str, str]:
    """X-Registry-Config for builds: credentials per registry, for the base images' pulls."""
    if not configs:
        return {}
    return {"X-Registry-Config": base64.urlsafe_b64encode(json.dumps(configs).encode()).decode("ascii")}


def post(api: docker.APIClient, path: str, *, params: dict[str, Any] | None = None,
         headers: dict[str, str] | None = None, data: IO[bytes] | bytes | None = None,
         path_args: tuple[str, ...] = ()) -> requests.Response:
    """POST `path` (a docker-py URL template, e.g. "/images/{0}/push") with no read timeout; the open
    response (raises docker.errors.APIError on an error status, with the engine's message)."""
    response = api._post(api._url(path, *path_args), params=params or {}, headers=headers or {}, data=data,
                         stream=True, timeout=None)
    api._raise_for_status(response)
    return response


def lines(api: docker.APIClient, response: requests.Response) -> Iterator[dict[str, Any]]:
    """The response's JSON documents, decoded, as they arrive (a reply sent whole, not chunked — as
    Berth answers /images/load — is split the same way)."""
    chunked = bool(getattr(getattr(response.raw, "_fp", None), "chunked", False))
    source = api._stream_helper(response, decode=False) if chunked else iter([response.content])
    for item in json_stream(source):
        yield item if isinstance(item, dict) else {"stream": str(item)}


def interrupt(response: requests.Response) -> None:
    """Stop a streamed response from another thread: shut its socket down (a blocked read returns), then close."""
    raw = getattr(response, "raw", None)
    conn = getattr(raw, "_connection", None) or getattr(raw, "connection", None)
    sock = getattr(conn, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(Exception):
        response.close()


class CountingReader:
    """A file wrapper that reports how much of it was read (upload progress); `len()` is its size."""

    def __init__(self, f: IO[bytes], size: int, on_read: Any) -> None:
        self.f, self.size, self.on_read, self.done = f, size, on_read, 0

    def __len__(self) -> int:
        return self.size

    def read(self, n: int = -1) -> bytes:
        chunk = self.f.read(n)
        self.done += len(chunk)
        self.on_read(self.done, self.size)
        return chunk
