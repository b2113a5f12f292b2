"""Registry credentials from X-Registry-Auth and X-Registry-Config (pure)."""

from __future__ import annotations

import base64
import json

import pytest

from engine.errors import InvalidArgument
from engine.images.registry.auth import Credentials, RegistryAuths, registry_domain


def _header(doc: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()


def test_it_reads_the_config_the_cli_sends_for_build() -> None:
    auths = RegistryAuths.from_header(_header({
        "127.0.0.1:5000": {"username": "alice", "password": "pw", "serveraddress": "127.0.0.1:5000"},
        "https://index.docker.io/v1/": {"auth": base64.b64encode(b"bob:hub:pw").decode()},
        "ghcr.io": {},
    }))
    assert auths.for_domain("127.0.0.1:5000") == Credentials("alice", "pw")
    assert auths.for_domain("docker.io") == Credentials("bob", "hub:pw")
    assert auths.for_domain("ghcr.io") == Credentials()
    assert auths.for_domain("example.com") == Credentials()
    assert auths.domains == ["127.0.0.1:5000", "docker.io"]


def test_it_treats_a_missing_or_empty_config_as_no_credentials() -> None:
    for value in (None, "", "  ", _header({}), _header(None)):
        assert RegistryAuths.from_header(value).for_domain("docker.io") == Credentials()


def test_it_refuses_a_header_that_is_not_base64_json() -> None:
    with pytest.raises(InvalidArgument, match="X-Registry-Config"):
        RegistryAuths.from_header("not json at all!")
    with pytest.raises(InvalidArgument, match="X-Registry-Auth"):
        Credentials.from_header("%%%")


def test_it_keeps_secrets_out_of_repr() -> None:
    creds = Credentials("alice", "s3cret", "id-token", "reg-token")
    auths = RegistryAuths({"h:1": creds})
    for text in (repr(creds), str(creds), repr(auths)):
        assert "s3cret" not in text and "id-token" not in text and "reg-token" not in text
    assert "alice" in repr(creds)


def test_it_names_registries_as_references_do() -> None:
    assert registry_domain("https://index.docker.io/v1/") == "docker.io"
    assert registry_domain("registry-1.docker.io") == "docker.io"
    assert registry_domain("") == "docker.io"
    assert registry_domain("http://Registry.Example:5000/") == "registry.example:5000"
    assert registry_domain("127.0.0.1:5000") == "127.0.0.1:5000"
