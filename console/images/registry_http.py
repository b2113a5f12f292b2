"""The digest a registry holds for a tag, asked directly (OCI distribution: HEAD /v2/<name>/manifests/<tag>).

Used for "update available" when an endpoint's engine has no `GET /distribution/<name>/json` (Berth
engines do not have it yet; Docker engines do, and are asked first — console/images/updates.py).
Auth follows the registry's challenge: Basic with the stored credentials, or a Bearer token from
the realm it names. Like Docker, loopback registries are tried over HTTPS and then plain HTTP.
The console's host reaches the registry here, not the engine's: the same registry for one-host installs.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import requests

from console.registries.references import DOCKER_HUB, registry_of

TIMEOUT = (5, 15)
ACCEPT = ", ".join((
    "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json",
))
CHALLENGE_RE = re.compile(r'(\w+)="([^"]*)"')


class RegistryQueryError(Exception):
    """The registry could not be asked, or refused; the message says which, in its words."""


def split(reference: str) -> tuple[str, str, str]:
    """ "127.0.0.1:5000/app:v1" → ("127.0.0.1:5000", "app", "v1"); "busybox" → ("registry-1.docker.io", "library/busybox", "latest")."""
    domain = registry_of(reference)
    first, sep, remainder = reference.partition("/")
    rest = remainder if sep and ("." in first or ":" in first or first == "localhost") else reference
    name, _, digest = rest.partition("@")
    slash, colon = name.rfind("/"), name.rfind(":")
    path, tag = (name[:colon], name[colon + 1:]) if colon > slash else (name, "latest")
    if digest:
        tag = digest
    if domain == DOCKER_HUB:
        domain, path = "registry-1.docker.io", path if "/" in path else f"library/{path}"
    return domain, path, tag


def _insecure(host: str) -> bool:
    name = host.rsplit(":", 1)[0].strip("[]") if not host.endswith("]") else host.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _token(challenge: str, auth: tuple[str, str] | None, session: requests.Session) -> str:
    fields = dict(CHALLENGE_RE.findall(challenge))
    realm = fields.pop("realm", "")
    if not realm:
        raise RegistryQueryError("the registry asked for a token but named no realm")
    answer = session.get(realm, params=fields, auth=auth, timeout=TIMEOUT)
    if answer.status_code in (401, 403):
        raise RegistryQueryError("the registry refused the stored credentials" if auth else "the registry needs credentials")
    answer.raise_for_status()
    body = answer.json()
    return str(body.get("token") or body.get("access_token") or "")


def _head(url: str, auth: tuple[str, str] | None, session: requests.Session) -> requests.Response:
    headers = {"Accept": ACCEPT}
    answer = session.head(url, headers=headers, timeout=TIMEOUT)
    if answer.status_code != 401:
        return answer
    challenge = answer.headers.get("WWW-Authenticate", "")
    if challenge.lower().startswith("basic"):
        if not auth:
            raise RegistryQueryError("the registry needs credentials: add them under Registries")
        return session.head(url, headers=headers, auth=auth, timeout=TIMEOUT)
    if challenge.lower().startswith("bearer"):
        headers["Authorization"] = f"Bearer {_token(challenge[6:].strip(), auth, session)}"
        return session.head(url, headers=headers, timeout=TIMEOUT)
    return answer


def manifest_digest(reference: str, auth_config: dict[str, Any] | None = None) -> str:
    """The registry's digest for `reference`'s tag. Raises RegistryQueryError with the reason."""
    host, path, tag = split(reference)
    auth = (auth_config["username"], auth_config["password"]) if auth_config else None
    schemes = ("https", "http") if _insecure(host) else ("https",)
    problem = ""
    with requests.Session() as session:
        session.trust_env = False  # loopback registries must not go through a proxy
        for scheme in schemes:
            try:
                answer = _head(f"{scheme}://{host}/v2/{path}/manifests/{tag}", auth, session)
            except requests.RequestException as exc:
                problem = f"cannot reach {host}: {exc.__class__.__name__}"
                continue
            if answer.status_code == 404:
                raise RegistryQueryError(f"{path}:{tag} is not in the registry {host}")
            if answer.status_code in (401, 403):
                raise RegistryQueryError("the registry refused the stored credentials" if auth else "the registry needs credentials")
            if answer.status_code >= 400:
                raise RegistryQueryError(f"the registry {host} answered {answer.status_code}")
            digest = answer.headers.get("Docker-Content-Digest", "")
            if not digest:
                raise RegistryQueryError(f"the registry {host} sent no digest for {path}:{tag}")
            return digest
    raise RegistryQueryError(problem or f"cannot reach {host}")
