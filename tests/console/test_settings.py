"""The settings parsers: good values parse, bad ones stop start-up with the variable's name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from console.lib.env import env_bool, env_list
from console.lib.urls import (
    celery_broker_url,
    check_engine_url,
    check_redis_url,
    parse_database_url,
)

REPO = Path(__file__).resolve().parents[2]


def test_it_parses_booleans_strictly(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DEBUG", "Yes")
    assert env_bool("DEBUG", False) is True
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG='maybe'"):
        env_bool("DEBUG", False)


def test_it_parses_lists(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ALLOWED_HOSTS", " a.example, ,b.example ")
    assert env_list("ALLOWED_HOSTS", "") == ["a.example", "b.example"]


def test_it_parses_sqlite_urls() -> None:
    base = Path("/repo")
    assert parse_database_url("sqlite:////srv/console.db", base)["NAME"] == "/srv/console.db"
    assert parse_database_url("sqlite:///var/console.db", base)["NAME"] == "/repo/var/console.db"
    with pytest.raises(ValueError):
        parse_database_url("sqlite://", base)


def test_it_parses_postgres_urls() -> None:
    db = parse_database_url("postgres://berth:p%40ss@db.example:5433/console?sslmode=require", Path("/repo"))
    assert db == {
        "ENGINE": "django.db.backends.postgresql", "NAME": "console", "USER": "berth", "PASSWORD": "p@ss",
        "HOST": "db.example", "PORT": "5433", "OPTIONS": {"sslmode": "require"},
    }
    assert parse_database_url("postgres://berth@%2Frun%2Fpostgresql/console", Path("/"))["HOST"] == "/run/postgresql"
    with pytest.raises(ValueError, match="no database name"):
        parse_database_url("postgres://db.example", Path("/"))
    with pytest.raises(ValueError, match="unsupported"):
        parse_database_url("mysql://db.example/console", Path("/"))


def test_it_checks_engine_urls() -> None:
    assert check_engine_url("unix:///run/berth/engine.sock") == "unix:///run/berth/engine.sock"
    assert check_engine_url("tcp://10.0.0.5:2376") == "tcp://10.0.0.5:2376"
    for bad in ("unix://run/engine.sock", "tcp://host", "http://host:2375", "/run/berth/engine.sock"):
        with pytest.raises(ValueError):
            check_engine_url(bad)


def test_it_spells_redis_sockets_for_celery() -> None:
    assert check_redis_url("unix:///srv/var/redis.sock") == "unix:///srv/var/redis.sock"
    assert celery_broker_url("unix:///srv/var/redis.sock") == "redis+socket:///srv/var/redis.sock"
    assert celery_broker_url("unix:///srv/var/redis.sock?db=2") == "redis+socket:///srv/var/redis.sock?virtual_host=2"
    assert celery_broker_url("redis://127.0.0.1:6379/1") == "redis://127.0.0.1:6379/1"
    with pytest.raises(ValueError):
        check_redis_url("unix://relative.sock")


def test_a_bad_value_stops_start_up(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = dict(os.environ, BERTH_VAR_DIR=str(tmp_path), BERTH_ENGINE_HOST="http://nowhere")
    proc = subprocess.run([sys.executable, "manage.py", "check"], cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode != 0
    assert "BERTH_ENGINE_HOST='http://nowhere'" in proc.stderr
