"""Parsers for the URLs the console is configured with: database, Redis, engine endpoints.

Pure functions: each returns what Django or a client library wants, or raises
ValueError with a message that says what a valid value looks like.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

POSTGRES_SCHEMES = frozenset({"postgres", "postgresql", "pgsql"})

# SQLite serves a console with a Daphne process and a Celery worker well once
# writers queue up instead of failing: WAL lets readers run beside a writer,
# IMMEDIATE transactions take the write lock up front, and `timeout` waits for it.
SQLITE_OPTIONS = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
}


def parse_database_url(url: str, base_dir: Path) -> dict[str, Any]:
    """A Django DATABASES entry from `sqlite:///relative/path`, `sqlite:////absolute/path` or `postgres://…`.

    Relative SQLite paths are relative to `base_dir` (the repository), not to the
    working directory. PostgreSQL query parameters (e.g. `sslmode=require`) become
    OPTIONS; a socket directory can be given as a percent-encoded host
    (`postgres://berth@%2Frun%2Fpostgresql/berth`).
    """
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        if parts.netloc:
            raise ValueError("write sqlite:///relative/path or sqlite:////absolute/path")
        path = unquote(parts.path[1:])
        if not path:
            raise ValueError("sqlite URL has no file path")
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(base_dir / path), "OPTIONS": dict(SQLITE_OPTIONS)}
    if parts.scheme in POSTGRES_SCHEMES:
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ValueError("postgres URL has no database name: postgres://user:password@host:port/name")
        try:
            port = parts.port
        except ValueError:
            raise ValueError("postgres URL has an invalid port") from None
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": unquote(parts.hostname or ""),
            "PORT": str(port or ""),
            "OPTIONS": dict(parse_qsl(parts.query)),
        }
    raise ValueError("unsupported database: use sqlite:///path or postgres://user:password@host:port/name")


def check_redis_url(url: str) -> str:
    """`url` unchanged if redis-py can use it: unix:///absolute/path.sock, redis://… or rediss://…."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        if parts.netloc or not parts.path.startswith("/"):
            raise ValueError("write unix:///absolute/path/to/redis.sock")
        return url
    if parts.scheme in ("redis", "rediss"):
        if not parts.hostname:
            raise ValueError("redis URL has no host: redis://host:6379/0")
        return url
    raise ValueError("use unix:///path/to/redis.sock, redis://host:port/db or rediss://host:port/db")


def celery_broker_url(redis_url: str) -> str:
    """The Celery (kombu) spelling of a Redis URL: kombu writes unix sockets as redis+socket://."""
    parts = urlsplit(redis_url)
    if parts.scheme != "unix":
        return redis_url
    db = dict(parse_qsl(parts.query)).get("db")
    return f"redis+socket://{parts.path}" + (f"?virtual_host={db}" if db else "")


def check_engine_url(url: str) -> str:
    """`url` unchanged if it addresses a Docker Engine API: unix:///absolute/path or tcp://host:port."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        if parts.netloc or not parts.path.startswith("/"):
            raise ValueError("write unix:///absolute/path/to/engine.sock")
        return url
    if parts.scheme == "tcp":
        try:
            port = parts.port
        except ValueError:
            raise ValueError("invalid port: write tcp://host:port") from None
        if not parts.hostname or port is None or parts.path not in ("", "/"):
            raise ValueError("write tcp://host:port")
        return url
    raise ValueError("use unix:///path/to/engine.sock or tcp://host:port")
