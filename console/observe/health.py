"""Is the console ready for work? The checks behind GET /healthz/ready.

Readiness means every service a page may need answers now:
- `database`: a `SELECT 1` on the default database;
- `channel_layer`: a PING to the Redis of the Channels layer (websockets);
- `celery_broker`: a PING to the Redis the Celery broker URL names (other
  brokers: a kombu connection);
- `engine`: the default endpoint ("local", else BERTH_ENGINE_HOST) answers `/_ping`.

Each check has its own short timeout and they run in parallel, so a dead Redis
or a silent engine answers in about CHECK_TIMEOUT, not after a pile of retries.
A failed check's `reason` says what went wrong in a few words (a socket error,
an exception class) and never a URL or a credential: the probes need no login.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import redis
from django.conf import settings
from django.db import DatabaseError, connections
from redis.backoff import NoBackoff
from redis.retry import Retry

CHECK_TIMEOUT = 2.0  # seconds, per check
REASON_LIMIT = 200
NO_RETRY = Retry(NoBackoff(), 0)  # redis-py retries 3 times with back-off by default: a probe asks once


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    reason: str = ""
    ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "ms": round(self.ms, 1)}
        if self.reason:
            out["reason"] = self.reason
        return out


def short_reason(exc: BaseException) -> str:
    """The root cause in a few words: an OS error's text ("Connection refused"), else the exception's class
    and first line — without the URLs some libraries put in their messages."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, TimeoutError) or "timeout" in type(e).__name__.lower():
            return f"no answer within {CHECK_TIMEOUT:g} s"
        if isinstance(e, OSError) and e.strerror:
            return e.strerror
        todo.extend(x for x in (e.__cause__, e.__context__, *e.args) if isinstance(x, BaseException))
    first = (str(exc).splitlines() or [""])[0]
    words = " ".join(w for w in first.split() if "://" not in w and "@" not in w)
    return f"{type(exc).__name__}: {words}"[:REASON_LIMIT].rstrip(": ")


def timed(name: str, probe: Callable[[], None]) -> Check:
    started = time.perf_counter()
    try:
        probe()
    except Exception as exc:
        return Check(name, False, short_reason(exc), (time.perf_counter() - started) * 1000)
    return Check(name, True, "", (time.perf_counter() - started) * 1000)


# -- the probes --------------------------------------------------------------------------------
def ping_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")


def redis_kwargs(url: str) -> dict[str, Any] | None:
    """redis-py connection arguments for a Redis URL in redis-py's or kombu's spelling; None if not Redis."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    if parts.scheme in ("unix", "redis+socket"):
        db = query.get("db") or query.get("virtual_host") or "0"
        return {"unix_socket_path": parts.path, "db": int(db), "password": parts.password}
    if parts.scheme in ("redis", "rediss"):
        return {"from_url": url}
    return None


def ping_redis(url: str) -> None:
    kwargs = redis_kwargs(url)
    if kwargs is None:
        raise ValueError("not a Redis URL")
    common: dict[str, Any] = {"socket_timeout": CHECK_TIMEOUT, "socket_connect_timeout": CHECK_TIMEOUT, "retry": NO_RETRY}
    if "from_url" in kwargs:
        client = redis.Redis.from_url(kwargs["from_url"], **common)
    else:
        client = redis.Redis(**kwargs, **common)
    try:
        client.ping()
    finally:
        client.close()


def ping_broker(url: str) -> None:
    if redis_kwargs(url) is not None:
        ping_redis(url)
        return
    from kombu import Connection

    with Connection(url, connect_timeout=CHECK_TIMEOUT) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=CHECK_TIMEOUT)


def channel_layer_url() -> str | None:
    """The Redis the default channel layer uses, or None when it is not a Redis layer."""
    layer = (getattr(settings, "CHANNEL_LAYERS", {}) or {}).get("default") or {}
    if "redis" not in str(layer.get("BACKEND", "")).lower():
        return None
    hosts = (layer.get("CONFIG") or {}).get("hosts") or []
    if not hosts:
        return None
    host = hosts[0]
    if isinstance(host, dict):
        return str(host.get("address", ""))
    if isinstance(host, (tuple, list)):
        return f"redis://{host[0]}:{host[1]}"
    return str(host)


def default_endpoint() -> Any:
    """The Endpoint named "local", or an unsaved one for BERTH_ENGINE_HOST (also when the database is away)."""
    from console.endpoints.models import LOCAL_ENDPOINT, Endpoint

    try:
        found = Endpoint.objects.filter(name=LOCAL_ENDPOINT).first()
    except DatabaseError:  # the database check reports that; the engine is still worth asking
        found = None
    return found or Endpoint(name=LOCAL_ENDPOINT, url=settings.BERTH_ENGINE_HOST)


def ping_engine(endpoint: Any) -> None:
    from console.endpoints.client import endpoint_client

    with endpoint_client(endpoint, timeout=CHECK_TIMEOUT) as client:
        client.api.ping()


# -- all together ------------------------------------------------------------------------------
def readiness() -> list[Check]:
    """Every check's result, in a fixed order. The database is asked on this thread (Django's
    connections are per thread); the others in parallel."""
    checks = [timed("database", ping_database)]
    endpoint = default_endpoint()
    layer = channel_layer_url()
    others: list[tuple[str, Callable[[], None]]] = [
        ("channel_layer", (lambda: ping_redis(layer)) if layer else (lambda: None)),
        ("celery_broker", lambda: ping_broker(settings.CELERY_BROKER_URL)),
        ("engine", lambda: ping_engine(endpoint)),
    ]
    with ThreadPoolExecutor(max_workers=len(others), thread_name_prefix="healthz") as pool:
        checks += list(pool.map(lambda item: timed(*item), others))
    return checks
