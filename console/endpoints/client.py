"""The one way the console talks to an engine: a Docker SDK client for an endpoint, and one error type.

Every engine — the local Berth engine, a Berth engine on another host, a Docker
engine — speaks the Docker Engine API, so one client serves them all. Use
`connect()` as a context manager; whatever goes wrong inside it (no socket,
refused connection, timeout, an error status from the engine) comes out as
`EngineError`, whose message names the engine and can be shown to a user as it
is. The client is closed when the block ends.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import docker
import docker.errors
import docker.tls
import requests

from console.observe.outgoing import observed_send

DEFAULT_TIMEOUT = 10.0  # seconds for one API call


class EngineError(Exception):
    """An engine could not be reached or refused a request.

    `message` is fit for a user; `status` is the engine's HTTP status, or None
    when no answer came at all.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class _ObservedAPIClient(docker.APIClient):
    """The SDK's low-level client; every HTTP request it sends carries the request id and trace
    context (console/observe/outgoing.py) — the version negotiation in its constructor too."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        return observed_send(super().send, request, **kwargs)


class _ObservedClient(docker.DockerClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:  # DockerClient's own __init__ makes only `api`
        self.api = _ObservedAPIClient(*args, **kwargs)


@contextmanager
def connect(url: str, timeout: float = DEFAULT_TIMEOUT, tls: docker.tls.TLSConfig | None = None) -> Iterator[docker.DockerClient]:
    """A Docker SDK client for the engine at `url` (an Endpoint's url), with errors translated to EngineError.

    The client negotiates the API version with the engine as it is made, so an
    engine that does not answer fails here, as EngineError too.
    """
    client = None
    try:
        client = _ObservedClient(base_url=_http_url(url, tls), version="auto", timeout=timeout, tls=tls or False)
        yield client
    except docker.errors.APIError as exc:
        raise EngineError(f"the engine at {url} refused: {exc.explanation or exc}", exc.status_code) from exc
    except (docker.errors.DockerException, requests.RequestException) as exc:
        raise EngineError(f"cannot reach the engine at {url}: {_reason(exc, timeout)}") from exc
    finally:
        if client is not None:
            client.close()


@contextmanager
def endpoint_client(endpoint: object, timeout: float = DEFAULT_TIMEOUT) -> Iterator[docker.DockerClient]:
    """`connect()` for an Endpoint, with its TLS client certificate when it has one.

    The PEM texts are written to a private temporary directory for the life of the
    client (the SDK wants files) and removed afterwards.
    """
    url = getattr(endpoint, "url")
    cert, key, ca = (getattr(endpoint, "tls_cert", ""), getattr(endpoint, "tls_key", ""), getattr(endpoint, "tls_ca", ""))
    if not (cert and key):
        with connect(url, timeout) as client:
            yield client
        return
    with tempfile.TemporaryDirectory(prefix="berth-tls-") as d:
        paths = {}
        for name, text in (("cert.pem", cert), ("key.pem", key), ("ca.pem", ca)):
            if text:
                path = os.path.join(d, name)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(text)
                paths[name] = path
        tls = docker.tls.TLSConfig(client_cert=(paths["cert.pem"], paths["key.pem"]),
                                   ca_cert=paths.get("ca.pem"), verify=bool(ca))
        with connect(url, timeout, tls) as client:
            yield client


def _http_url(url: str, tls: object) -> str:
    if tls and url.startswith("tcp://"):
        return "https://" + url[len("tcp://"):]
    return url


def _reason(exc: BaseException, timeout: float) -> str:
    """The root cause of a failed connection in a few words ("Connection refused").

    requests and urllib3 wrap the OSError that says what happened several
    layers deep, in causes and in exception arguments; dig it out.
    """
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, (requests.Timeout, TimeoutError)):
            return f"no answer within {timeout:g} s"
        if isinstance(e, OSError) and e.strerror:
            return e.strerror
        todo.extend(x for x in (e.__cause__, e.__context__, *e.args) if isinstance(x, BaseException))
    return str(exc)
