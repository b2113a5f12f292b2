"""An OCI distribution (Docker registry v2) client for one repository (blocking; run in threads).

Authentication follows the registry's challenge: Basic with the client's
credentials, or Bearer tokens fetched from the realm it names (anonymously or with
the credentials, or with an identity token). TLS per registry host follows
Docker's conventions: `<certs dir>/<host[:port]>/ca.crt` adds a CA, `client.cert` +
`client.key` a client certificate; insecure registries (loopback, or listed) are
tried over HTTPS without verification, then plain HTTP.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
import urllib3

from engine.errors import EngineError, NotFound
from engine.images.registry.auth import DOCKER_HUB, Credentials

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # insecure registries are a choice
DOCKER_HUB_API = "registry-1.docker.io"
MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
INDEX_TYPES = MANIFEST_TYPES[:2]
TIMEOUT = (10, 60)


class RegistryError(EngineError):
    """The registry refused or failed; `status` carries the HTTP-ish meaning for the API."""

    status = 500


class Unauthorized(RegistryError):
    status = 401


@dataclass(frozen=True)
class RegistrySettings:
    certs_dirs: tuple[str, ...] = ("/etc/berth/certs.d", "/etc/docker/certs.d")
    insecure: tuple[str, ...] = ()

    def is_insecure(self, host: str) -> bool:
        name = host.rsplit(":", 1)[0].strip("[]") if not host.startswith("[") else host.split("]")[0].strip("[")
        if name == "localhost" or host in self.insecure or name in self.insecure:
            return True
        try:
            addr = ipaddress.ip_address(name)
        except ValueError:
            return False
        if addr.is_loopback:
            return True
        for cidr in self.insecure:
            try:
                if addr in ipaddress.ip_network(cidr, strict=False):
                    return True
            except ValueError:
                continue
        return False

    def tls_files(self, host: str) -> tuple[str | None, tuple[str, str] | None]:
        for base in self.certs_dirs:
            d = os.path.join(base, host)
            if not os.path.isdir(d):
                continue
            ca = os.path.join(d, "ca.crt")
            cert, key = os.path.join(d, "client.cert"), os.path.join(d, "client.key")
            return (ca if os.path.isfile(ca) else None,
                    (cert, key) if os.path.isfile(cert) and os.path.isfile(key) else None)
        return None, None


def api_host(domain: str) -> str:
    return DOCKER_HUB_API if domain == DOCKER_HUB else domain


_CHALLENGE_RE = re.compile(r'(\w+)="([^"]*)"')


@dataclass
class Repository:
    """One repository on one registry, with its auth state."""

    domain: str
    path: str
    creds: Credentials
    settings: RegistrySettings
    push: bool = False
    session: requests.Session = field(default_factory=requests.Session)
    base: str = ""
    token: str = field(default="", repr=False)  # a bearer token: a credential too

    def __post_init__(self) -> None:
        host = api_host(self.domain)
        ca, cert = self.settings.tls_files(self.domain)
        # `verify` is passed on every request: a session-level value loses to REQUESTS_CA_BUNDLE
        self.verify: bool | str = ca or True
        if cert:
            self.session.cert = cert
        self.host = host

    # -- connection and auth -------------------------------------------------------------------
    def _ensure_base(self) -> None:
        if self.base:
            return
        schemes = ["https", "http"] if self.settings.is_insecure(self.domain) else ["https"]
        last: Exception | None = None
        for scheme in schemes:
            url = f"{scheme}://{self.host}/v2/"
            try:
                verify = self.verify if not self.settings.is_insecure(self.domain) else False
                resp = self.session.get(url, timeout=TIMEOUT, verify=verify)
            except requests.exceptions.SSLError as exc:
                last = exc
                continue
            except requests.exceptions.ConnectionError as exc:
                last = exc
                continue
            self.base = f"{scheme}://{self.host}"
            if self.settings.is_insecure(self.domain):
                self.verify = False
            if resp.status_code == 401:
                self._authenticate(resp.headers.get("WWW-Authenticate", ""))
            return
        raise RegistryError(f'Get "https://{self.host}/v2/": {_reason(last)}')

    def _scope(self) -> str:
        return f"repository:{self.path}:{'pull,push' if self.push else 'pull'}"

    def _authenticate(self, challenge: str) -> None:
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic":
            if not self.creds.username:
                raise Unauthorized("unauthorized: authentication required")
            self.session.auth = (self.creds.username, self.creds.password)
            return
        if scheme.lower() != "bearer":
            raise RegistryError(f"unsupported registry authentication scheme: {scheme}")
        if self.creds.registry_token:
            self.token = self.creds.registry_token
            self.session.headers["Authorization"] = f"Bearer {self.token}"
            return
        fields = dict(_CHALLENGE_RE.findall(params))
        realm = fields.get("realm")
        if not realm:
            raise RegistryError("registry sent a Bearer challenge without a realm")
        query: dict[str, str] = {"scope": self._scope()}
        if fields.get("service"):
            query["service"] = fields["service"]
        auth = None
        if self.creds.identity_token:
            resp = requests.post(realm, data={"grant_type": "refresh_token", "refresh_token": self.creds.identity_token,
                                              "service": query.get("service", ""), "scope": query["scope"],
                                              "client_id": "berth"}, timeout=TIMEOUT, verify=self.verify)
        else:
            if self.creds.username:
                auth = (self.creds.username, self.creds.password)
            resp = requests.get(realm, params=query, auth=auth, timeout=TIMEOUT, verify=self.verify)
        if resp.status_code in (401, 403):
            raise Unauthorized("unauthorized: incorrect username or password" if auth else "unauthorized: authentication required")
        if resp.status_code != 200:
            raise RegistryError(f"token request to {realm} failed: HTTP {resp.status_code}")
        doc = resp.json()
        self.token = doc.get("token") or doc.get("access_token") or ""
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def _request(self, method: str, url: str, **kw: Any) -> requests.Response:
        self._ensure_base()
        if url.startswith("/"):
            url = self.base + url
        kw.setdefault("timeout", TIMEOUT)
        kw.setdefault("verify", self.verify)
        resp = self.session.request(method, url, **kw)
        if resp.status_code == 401 and "Authorization" not in resp.request.headers:
            self._authenticate(resp.headers.get("WWW-Authenticate", ""))
            resp = self.session.request(method, url, **kw)
        return resp

    def check(self) -> None:
        """Login: the registry accepts these credentials (or needs none)."""
        self._ensure_base()
        resp = self._request("GET", "/v2/")
        if resp.status_code == 401:
            if self.session.auth is None and not self.token:
                challenge = resp.headers.get("WWW-Authenticate", "")
                self._authenticate(challenge)
                resp = self._request("GET", "/v2/")
            if resp.status_code == 401:
                raise Unauthorized("unauthorized: incorrect username or password")
        if resp.status_code >= 400:
            raise RegistryError(f"login to {self.domain} failed: HTTP {resp.status_code}")

    # -- reading --------------------------------------------------------------------------------
    def manifest(self, ref: str) -> tuple[dict[str, Any], str, str]:
        """(manifest, media type, digest) for a tag or digest."""
        doc, media, digest, _size = self.manifest_sized(ref)
        return doc, media, digest

    def manifest_sized(self, ref: str) -> tuple[dict[str, Any], str, str, int]:
        """As `manifest`, with the manifest's size in bytes (a descriptor needs it)."""
        resp = self._request("GET", f"/v2/{self.path}/manifests/{ref}", headers={"Accept": ", ".join(MANIFEST_TYPES)})
        if resp.status_code in (401, 403):
            raise Unauthorized(
                f"pull access denied for {self.path}, repository does not exist or may require 'docker login': "
                "denied: requested access to the resource is denied"
            )
        if resp.status_code == 404:
            raise NotFound(f"manifest for {self.domain}/{self.path}:{ref} not found: manifest unknown: manifest unknown")
        if resp.status_code >= 400:
            raise RegistryError(f"error pulling manifest {ref}: HTTP {resp.status_code}: {resp.text[:200]}")
        body = resp.content
        import hashlib

        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if ref.startswith("sha256:") and digest != ref:
            raise RegistryError(f"manifest verification failed for digest {ref}")
        try:
            doc = json.loads(body)
        except ValueError:
            raise RegistryError("the registry sent a manifest that is not JSON") from None
        media = doc.get("mediaType") or resp.headers.get("Content-Type", "").split(";")[0]
        if doc.get("schemaVersion") == 1:
            raise RegistryError("schema 1 manifests are not supported; push the image with a newer client")
        return doc, media, digest, len(body)

    def blob(self, digest: str, offset: int = 0) -> tuple[Iterator[bytes], int | None]:
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        resp = self._request("GET", f"/v2/{self.path}/blobs/{digest}", headers=headers, stream=True)
        if resp.status_code in (401, 403):
            raise Unauthorized(f"pull access denied for {self.path}: denied: requested access to the resource is denied")
        if resp.status_code == 404:
            raise NotFound(f"blob {digest} not found in {self.domain}/{self.path}")
        if resp.status_code not in (200, 206):
            raise RegistryError(f"error fetching blob {digest}: HTTP {resp.status_code}")
        if offset and resp.status_code == 200:
            raise _RangeIgnored()
        length = resp.headers.get("Content-Length")
        # small chunks: what arrived before a dropped connection is kept for the resumed request
        return resp.iter_content(64 * 1024), (int(length) + offset if length and length.isdigit() else None)

    # -- writing --------------------------------------------------------------------------------
    def has_blob(self, digest: str) -> bool:
        resp = self._request("HEAD", f"/v2/{self.path}/blobs/{digest}")
        if resp.status_code in (401, 403):
            raise Unauthorized("denied: requested access to the resource is denied")
        return resp.status_code == 200

    def mount_blob(self, digest: str, source_path: str) -> bool:
        resp = self._request("POST", f"/v2/{self.path}/blobs/uploads/", params={"mount": digest, "from": source_path})
        if resp.status_code == 201:
            return True
        if resp.status_code == 202:  # the registry opened an upload instead: cancel it
            location = resp.headers.get("Location")
            if location:
                self._request("DELETE", self._absolute(location))
        return False

    def _absolute(self, location: str) -> str:
        if location.startswith("http"):
            return location
        return self.base + location

    def upload_blob(self, digest: str, path: str, on_progress: Any = None, chunk: int = 8 << 20) -> None:
        resp = self._request("POST", f"/v2/{self.path}/blobs/uploads/")
        if resp.status_code in (401, 403):
            raise Unauthorized("denied: requested access to the resource is denied")
        if resp.status_code != 202:
            raise RegistryError(f"could not start an upload: HTTP {resp.status_code}")
        location = self._absolute(resp.headers["Location"])
        size = os.path.getsize(path)
        sent = 0
        with open(path, "rb") as f:
            while sent < size:
                data = f.read(chunk)
                resp = self._request("PATCH", location, data=data, headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{sent}-{sent + len(data) - 1}", "Content-Length": str(len(data))})
                if resp.status_code != 202:
                    raise RegistryError(f"blob upload failed: HTTP {resp.status_code}")
                location = self._absolute(resp.headers.get("Location", location))
                sent += len(data)
                if on_progress:
                    on_progress(sent, size)
        sep = "&" if "?" in location else "?"
        resp = self._request("PUT", f"{location}{sep}digest={digest}", headers={"Content-Length": "0"})
        if resp.status_code != 201:
            raise RegistryError(f"blob upload was not accepted: HTTP {resp.status_code}: {resp.text[:200]}")

    def put_manifest(self, tag: str, body: bytes, media_type: str) -> None:
        resp = self._request("PUT", f"/v2/{self.path}/manifests/{tag}", data=body, headers={"Content-Type": media_type})
        if resp.status_code in (401, 403):
            raise Unauthorized("denied: requested access to the resource is denied")
        if resp.status_code not in (200, 201):
            raise RegistryError(f"manifest upload failed: HTTP {resp.status_code}: {resp.text[:200]}")


class _RangeIgnored(Exception):
    """The registry answered a ranged request with the whole blob."""


def _reason(exc: Exception | None) -> str:
    if exc is None:
        return "no route to the registry"
    text = str(exc)
    if "Connection refused" in text:
        return "dial tcp: connect: connection refused"
    if "Name or service not known" in text or "Temporary failure in name resolution" in text:
        return "dial tcp: lookup: no such host"
    return text[:300]
