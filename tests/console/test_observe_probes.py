"""/healthz/live and /healthz/ready: liveness never touches the database or Redis; readiness asks the
database, both Redis URLs and the default endpoint's engine, and says why not with a 503, quickly."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.test import Client, override_settings

from console.observe import health
from tests.support.redis import RedisServer


def redis_settings(url: str) -> dict:
    """Settings that point the channel layer and the Celery broker at the Redis at `url` (unix://)."""
    from console.lib.urls import celery_broker_url

    layer = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                         "CONFIG": {"hosts": [{"address": url, "socket_timeout": None}]}}}
    return {"CHANNEL_LAYERS": layer, "CELERY_BROKER_URL": celery_broker_url(url), "REDIS_URL": url}


def test_it_is_live_without_touching_the_database_or_redis(tmp_path: Path) -> None:
    # No django_db mark: any database access here fails the test. Redis points at a socket nobody serves.
    with override_settings(**redis_settings(f"unix://{tmp_path}/nobody.sock")):
        response = Client().get("/healthz/live")
    assert response.status_code == 200 and response.json() == {"live": True}
    assert response["Cache-Control"].startswith("max-age=0") and response["X-Request-Id"]


@pytest.mark.django_db
def test_it_is_ready_then_not_when_its_redis_dies_while_staying_live(engine) -> None:  # type: ignore[no-untyped-def]
    from console.endpoints.models import Endpoint

    Endpoint.objects.update_or_create(name="local", defaults={"url": engine.host})
    redis = RedisServer().start()
    try:
        with override_settings(**redis_settings(redis.url)):
            client = Client()
            response = client.get("/healthz/ready")
            body = response.json()
            assert response.status_code == 200, body
            assert body["ready"] is True and body["reasons"] == []
            assert set(body["checks"]) == {"database", "channel_layer", "celery_broker", "engine"}
            assert all(check["ok"] for check in body["checks"].values())

            assert redis.proc is not None
            redis.proc.kill()
            redis.proc.wait()
            started = time.monotonic()
            response = client.get("/healthz/ready")
            took = time.monotonic() - started
            body = response.json()
            assert response.status_code == 503 and body["ready"] is False
            assert took < 3, f"readiness took {took:.1f} s with Redis gone"
            failed = {name for name, check in body["checks"].items() if not check["ok"]}
            assert failed == {"channel_layer", "celery_broker"}
            assert any(r.startswith("channel_layer: ") for r in body["reasons"])
            assert "unix://" not in response.content.decode()  # reasons without URLs

            live = client.get("/healthz/live")
            assert live.status_code == 200 and live.json() == {"live": True}
    finally:
        redis.stop()


@pytest.mark.django_db
def test_it_is_not_ready_when_the_default_engine_does_not_answer(tmp_path: Path) -> None:
    from console.endpoints.models import Endpoint

    Endpoint.objects.update_or_create(name="local", defaults={"url": f"unix://{tmp_path}/engine.sock"})
    response = Client().get("/healthz/ready")
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["engine"]["ok"] is False
    assert body["reasons"] == ["engine: No such file or directory"] or body["reasons"][-1].startswith("engine: ")
    assert str(tmp_path) not in response.content.decode()


def test_reasons_are_short_and_carry_no_urls() -> None:
    assert health.short_reason(ConnectionRefusedError(111, "Connection refused")) == "Connection refused"
    wrapped = RuntimeError("cannot reach redis://:s3cret@db.internal:6379/0 now")
    assert health.short_reason(wrapped) == "RuntimeError: cannot reach now"
    assert health.redis_kwargs("redis+socket:///run/r.sock?virtual_host=3") == {
        "unix_socket_path": "/run/r.sock", "db": 3, "password": None}
    assert health.redis_kwargs("unix:///run/r.sock?db=2")["db"] == 2
    assert health.redis_kwargs("redis://h:6379/0") == {"from_url": "redis://h:6379/0"}
    assert health.redis_kwargs("amqp://guest@h//") is None


def test_its_settings_are_checked_at_start_up() -> None:
    from console.observe.config import parse_drift_interval, parse_log_format, parse_metrics_token

    assert parse_log_format(" JSON ") == "json" and parse_log_format("text") == "text"
    assert parse_metrics_token("") == "" and parse_metrics_token("x" * 16) == "x" * 16
    assert parse_drift_interval("30") == 30
    for parse, bad in ((parse_log_format, "xml"), (parse_metrics_token, "short"), (parse_metrics_token, "has spaces in it ok"),
                       (parse_drift_interval, "2"), (parse_drift_interval, "soon")):
        with pytest.raises(ValueError):
            parse(bad)
