"""Registry credentials as clients send them (pure).

X-Registry-Auth (pull, push, distribution) carries one auth config; X-Registry-Config
(build) carries the client's whole config file's worth, keyed by registry server, so
that FROM can pull from any of them. Both are base64(JSON). The engine keeps neither:
credentials live for one request, and their secret fields stay out of `repr`, so a
logged object never shows them.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from engine.errors import InvalidArgument

DOCKER_HUB = "docker.io"
_HUB_ALIASES = ("index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")


@dataclass(frozen=True)
class Credentials:
    """One auth config: a user and password, or an identity token (from a previous login)."""

    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)
    registry_token: str = field(default="", repr=False)

    @classmethod
    def from_header(cls, value: str | None) -> Credentials:
        """X-Registry-Auth: base64url(JSON {username, password, serveraddress, identitytoken, registrytoken})."""
        if not value:
            return cls()
        doc = _decode(value, "X-Registry-Auth")
        return cls.from_auth_config(doc) if isinstance(doc, dict) else cls()

    @classmethod
    def from_auth_config(cls, doc: dict[str, Any]) -> Credentials:
        """Docker's AuthConfig; `auth` (base64 "user:password", as config.json stores it) fills a missing pair."""
        username, password = str(doc.get("username") or ""), str(doc.get("password") or "")
        if not username and not password and doc.get("auth"):
            try:
                username, _, password = base64.b64decode(str(doc["auth"])).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise InvalidArgument("invalid auth config: `auth` is not base64 of user:password") from None
        return cls(username, password, str(doc.get("identitytoken") or ""), str(doc.get("registrytoken") or ""))


@dataclass(frozen=True)
class RegistryAuths:
    """X-Registry-Config: credentials per registry domain, as `registry_domain` names them."""

    by_domain: dict[str, Credentials] = field(default_factory=dict, repr=False)

    @classmethod
    def from_header(cls, value: str | None) -> RegistryAuths:
        """base64url(JSON {server address: AuthConfig}); the server address in any form the CLI writes."""
        if not value or not value.strip():
            return cls()
        doc = _decode(value, "X-Registry-Config")
        if not isinstance(doc, dict):
            return cls()
        auths = {}
        for server, config in doc.items():
            if isinstance(config, dict):
                creds = Credentials.from_auth_config(config)
                if creds != Credentials():
                    auths[registry_domain(str(config.get("serveraddress") or server))] = creds
        return cls(auths)

    def for_domain(self, domain: str) -> Credentials:
        """The credentials for a reference's domain ("docker.io", "host:port"); none when the client has none."""
        return self.by_domain.get(registry_domain(domain), Credentials())

    @property
    def domains(self) -> list[str]:
        return sorted(self.by_domain)


def registry_domain(server: str) -> str:
    """A registry as a reference names it: "https://index.docker.io/v1/" → "docker.io", "http://h:5000/" → "h:5000"."""
    domain = server.strip() or DOCKER_HUB
    for prefix in ("https://", "http://"):
        domain = domain.removeprefix(prefix)
    domain = domain.split("/")[0].lower()
    return DOCKER_HUB if domain in _HUB_ALIASES else domain


def _decode(value: str, header: str) -> Any:
    raw = value.strip()
    try:
        padded = raw + "=" * (-len(raw) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise InvalidArgument(f"invalid {header} header: not base64-encoded JSON") from None
