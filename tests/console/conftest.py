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
import shutil
import tempfile
from collections.abc import Iterator

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
