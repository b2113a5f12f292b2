"""Testing credentials: the endpoint's engine logs in to the registry (POST /auth), as `docker login` does."""

from __future__ import annotations

from dataclasses import dataclass

import docker.errors

from console.endpoints.client import EngineError, endpoint_client
from console.endpoints.models import Endpoint
from console.registries.references import login_address


@dataclass(frozen=True)
class LoginResult:
    ok: bool
    message: str


def test_login(endpoint: Endpoint, server: str, username: str, password: str) -> LoginResult:
    """Ask `endpoint`'s engine to log in to `server`; the registry's or engine's words either way."""
    try:
        with endpoint_client(endpoint, timeout=30) as client:
            try:
                answer = client.api.login(username, password=password, registry=login_address(server), reauth=True)
            except docker.errors.APIError as exc:
                return LoginResult(False, str(exc.explanation or exc))
    except EngineError as exc:
        return LoginResult(False, exc.message)
    status = (answer or {}).get("Status") or "Login Succeeded"
    return LoginResult(True, f"{status} (from {endpoint.name})")
