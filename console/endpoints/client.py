"""The one way the console talks to an engine: a Docker SDK client for an endpoint, and one error type.

Every engine — the local Berth engine, a Berth engine on another host, a Docker
engine — speaks the Docker Engine API, so one client serves them all. Use
`connect()` as a context manager; whatever goes wrong inside it (no socket,
refused connection, timeout, an error status from the engine) comes out as
`EngineError`, whose message names the engine and can be shown to a user as it
is. The client is closed when the block ends.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

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

    def __init__(self, message: str, status: int | None = None, tls: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.tls = tls  # the TLS handshake failed: a certificate was refused or did not verify


class _ObservedAPIClient(docker.APIClient):
    """The SDK's low-level client; every HTTP request it sends carries the request id and trace
    context (console/observe/outgoing.py) — the version negotiation in its constructor too."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        return observed_send(super().send, request, **kwargs)

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> dict[str, Any]:
        # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE replace a session's own CA file
        # (psf/requests#3829); the endpoint's CA must win, or its engine never verifies.
        if verify is None and isinstance(self.verify, str):
            verify = self.verify
        return super().merge_environment_settings(url, proxies, stream, verify, cert)


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
        reason, tls_failed = _reason(exc, timeout), _tls_failure(exc)
        if tls is not None and not tls_failed and _aborted(exc):
            refusal = _tls12_refusal(url, tls, timeout)  # what TLS 1.3 left unsaid
            if refusal:
                reason, tls_failed = refusal, True
        raise EngineError(f"cannot reach the engine at {url}: {reason}", tls=tls_failed) from exc
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


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and everything that caused it: causes, contexts and exceptions held in arguments."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend(x for x in (e.__cause__, e.__context__, *e.args) if isinstance(x, BaseException))


def _tls_failure(exc: BaseException) -> bool:
    """Whether a failed connection failed in the TLS handshake (rather than not connecting at all)."""
    return any(isinstance(e, (ssl.SSLError, requests.exceptions.SSLError)) for e in _causes(exc))


def _aborted(exc: BaseException) -> bool:
    """Whether the engine closed the connection without an answer (what a refused TLS 1.3 client sees)."""
    return any(isinstance(e, (ConnectionResetError, http.client.RemoteDisconnected, ssl.SSLEOFError)) for e in _causes(exc))


def _tls12_refusal(url: str, tls: docker.tls.TLSConfig, timeout: float) -> str:
    """Why the engine ends our TLS connections, or "" if it does not.

    With TLS 1.3 the server checks the client certificate after the client has
    finished its handshake, so a refused certificate looks like a dropped
    connection. One TLS 1.2 handshake with the same certificates gets the
    server's alert, which says what is wrong.
    """
    parts = urlsplit(url if "://" in url else "tcp://" + url)
    if not parts.hostname or not parts.port:
        return ""
    context = ssl.create_default_context(cafile=tls.ca_cert) if tls.verify and tls.ca_cert else ssl.create_default_context()
    if not (tls.verify and tls.ca_cert):
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    if tls.cert:
        context.load_cert_chain(*tls.cert)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as raw, context.wrap_socket(raw, server_hostname=parts.hostname):
            return ""
    except ssl.SSLEOFError:
        # Our side verified the engine's certificate, then the engine hung up: it refused ours.
        return "TLS error: the engine refused the console's client certificate (does it trust the console's CA?)"
    except ssl.SSLError as exc:
        return _tls_reason(exc)
    except OSError:
        return ""


def _reason(exc: BaseException, timeout: float) -> str:
    """The root cause of a failed connection in a few words ("Connection refused").

    requests and urllib3 wrap the OSError that says what happened several
    layers deep, in causes and in exception arguments; dig it out.
    """
    for e in _causes(exc):
        if isinstance(e, (requests.Timeout, TimeoutError)):
            return f"no answer within {timeout:g} s"
        if isinstance(e, ssl.SSLError):
            return _tls_reason(e)
        if isinstance(e, OSError) and e.strerror:
            return e.strerror
    return str(exc)


def _tls_reason(exc: ssl.SSLError) -> str:
    """A TLS handshake failure in words: the engine's certificate did not verify, or ours was refused."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS error: the engine's certificate was not accepted ({exc.verify_message or exc.reason})"
    reason = (exc.reason or "").upper()
    if "CERTIFICATE_REQUIRED" in reason or "BAD_CERTIFICATE" in reason or "UNKNOWN_CA" in reason:
        return "TLS error: the engine refused the console's client certificate"
    return f"TLS error: {(exc.reason or str(exc)).replace('_', ' ').lower()}"
