"""A short-timeout Redis client for the console's own small records (task metrics, drift counts).

One client (and connection pool) per URL and process; redis-py re-opens its
connections after a fork, so Celery's pool processes can share the module.
Timeouts are short: a Redis that is gone costs a scrape or a page a second at
most, and the callers treat `redis.RedisError` as "not known now".
"""

from __future__ import annotations

import threading

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

TIMEOUT = 1.0  # seconds, to connect and for each reply

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


def client(url: str | None = None) -> redis.Redis:
    """The client for `url` (default: settings.REDIS_URL, read at each call so tests can override it)."""
    url = url or settings.REDIS_URL
    with _lock:
        found = _clients.get(url)
        if found is None:
            found = _clients[url] = redis.Redis.from_url(
                url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT, decode_responses=True,
                retry=Retry(NoBackoff(), 1))  # redis-py's default is 3 retries with back-off
        return found
