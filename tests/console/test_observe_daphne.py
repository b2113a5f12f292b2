"""The console under Daphne, as `make up` runs it, with BERTH_LOG_FORMAT=json and a scrape token:
probes, request ids and metrics through the real ASGI path (Django's async mode), and JSON log lines."""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.console import ConsoleServer

TOKEN = "scrape-" + secrets.token_hex(12)


class JsonConsole(ConsoleServer):
    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "BERTH_LOG_FORMAT": "json", "LOG_LEVEL": "INFO", "BERTH_METRICS_TOKEN": TOKEN}


@pytest.fixture(scope="module")
def console(engine) -> Iterator[JsonConsole]:  # type: ignore[no-untyped-def]
    if "REDIS_URL" not in os.environ:
        pytest.skip("redis-server is not installed")
    server = JsonConsole(engine.host, os.environ["REDIS_URL"]).start()
    try:
        yield server
    finally:
        server.stop()


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def test_daphne_serves_the_probes_ids_and_metrics_and_logs_json_lines(console: JsonConsole) -> None:
    status, _, body = get(f"{console.url}/healthz/ready")
    assert status == 200, body
    assert json.loads(body)["ready"] is True
    status, headers, _ = get(f"{console.url}/login/", {"X-Request-Id": "daphne-rid-1"})
    assert status == 200 and headers["x-request-id"] == "daphne-rid-1"
    assert get(f"{console.url}/metrics")[0] == 401
    status, headers, body = get(f"{console.url}/metrics", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and headers["content-type"].startswith("text/plain")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(body.decode()) for s in family.samples}
    login = ("berth_console_http_requests_total", (("method", "GET"), ("route", "login"), ("status", "200")))
    assert samples.get(login, 0) >= 1

    lines = [json.loads(line) for line in console.log_path.read_text().splitlines() if line.startswith("{")]
    mine = [line for line in lines if line.get("request_id") == "daphne-rid-1"]
    assert mine and mine[0]["logger"] == "console.access" and mine[0]["route"] == "login"
    assert mine[0]["time"].endswith("Z") and mine[0]["level"] == "INFO"
