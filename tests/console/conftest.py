"""Django for the console's tests only.

pytest.ini names no Django settings, so tests/engine and tests/compat run
without Django. This conftest is imported before the modules beside it, so it
points Django at console.settings here, with runtime files (generated secret
key, admin password) in a throw-away folder instead of the repository's var/,
and sets Django up so test modules can import models at the top.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator

import pytest

os.environ["DJANGO_SETTINGS_MODULE"] = "console.settings"
os.environ["BERTH_VAR_DIR"] = tempfile.mkdtemp(prefix="berth-console-tests-")
atexit.register(shutil.rmtree, os.environ["BERTH_VAR_DIR"], ignore_errors=True)

# A real Redis for the channel layer (consumer tests), when the host has redis-server.
if shutil.which("redis-server"):
    from tests.support.redis import RedisServer

    _redis = RedisServer().start()
    atexit.register(_redis.stop)
    os.environ["REDIS_URL"] = _redis.url

import django

django.setup()


@pytest.fixture(autouse=True, scope="session")
def _database_only_when_asked(django_db_blocker) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Refuse database access to tests not marked django_db, as pytest-django does when it set Django up itself."""
    with django_db_blocker.block():
        yield


@pytest.fixture
def endpoint(engine):  # type: ignore[no-untyped-def]
    """An Endpoint for the session's real Berth engine (tests/conftest.py `engine`)."""
    from console.endpoints.models import Endpoint

    return Endpoint.objects.create(name=f"test-{secrets.token_hex(3)}", url=engine.host)


@pytest.fixture
def run_busybox(docker) -> Callable[..., str]:  # type: ignore[no-untyped-def]
    """`run_busybox(*argv, name=, args=)`: `docker run -d busybox argv` on that engine; the container's full ID.
    Containers made in a test are removed after it (the `docker` fixture)."""
    def run(*argv: str, name: str | None = None, args: tuple[str, ...] = ()) -> str:
        name = name or f"page-{secrets.token_hex(3)}"
        result = docker("run", "-d", "--name", name, *args, "busybox", *argv)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()
    return run
