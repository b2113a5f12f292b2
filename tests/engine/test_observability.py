"""The engine observes itself: readiness, /metrics, request ids in JSON logs, traces, drift.

The pure parts (request ids, JSON lines, spans with the SDK's in-memory
exporter, the upper-dir walk on a hand-made overlay layout) run in-process; the
rest against real engines: the session's, and one started with `--log-format
json` that exports traces over OTLP/HTTP to a receiver on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import http.client
import io
import json
import logging
import os
import re
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine.observe import tracing
from engine.observe.logging import REQUEST_ID, make_handler, request_id_for
from engine.snapshots.changes import container_changes
from tests.support.engine import EngineProcess
from tests.support.otlp import SPAN_KIND_SERVER, OtlpReceiver, ReceivedSpan


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=30)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(30)
        self.sock.connect(self.unix_path)


def call(engine: EngineProcess, method: str, path: str, body: Any = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = UnixHTTP(str(engine.socket))
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
    resp = conn.getresponse()
    out = resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    conn.close()
    return out


def scrape(engine: EngineProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, headers, body = call(engine, "GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# -- pure ------------------------------------------------------------------------------------
def test_it_keeps_a_token_request_id_and_replaces_anything_else() -> None:
    assert request_id_for("console-7f3a.b:9") == "console-7f3a.b:9"
    for bad in (None, "", "has space", "x" * 65, "a\r\nSet-Cookie: y", "-leading", "ünïcode"):
        rid = request_id_for(bad)
        assert rid != bad and len(rid) == 16 and int(rid, 16) >= 0


def test_it_writes_json_lines_with_the_request_id_and_extras() -> None:
    out = io.StringIO()
    logger = logging.getLogger("test.observe.json")
    logger.propagate = False
    logger.addHandler(make_handler("json", stream=out))
    logger.setLevel(logging.DEBUG)
    token = REQUEST_ID.set("rid-1")
    try:
        logger.info("started %s", "c1", extra={"container": "c1"})
    finally:
        REQUEST_ID.reset(token)
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["message"] == "started c1" and first["level"] == "INFO" and first["logger"] == "test.observe.json"
    assert first["request_id"] == "rid-1" and first["container"] == "c1" and first["time"].endswith("Z")
    assert second["request_id"] is None and "ValueError: boom" in second["exc_info"]


def test_it_traces_a_request_and_its_children_in_memory() -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        InMemorySpanExporter,
    )

    @tracing.traced("child.async")
    async def child_async() -> int:
        return child_sync(2)

    @tracing.traced(lambda n: f"child.sync {n}")
    def child_sync(n: int) -> int:
        return n * 2

    assert asyncio.run(child_async()) == 4  # off: nothing to record, nothing imported for it
    exporter = InMemorySpanExporter()
    tracing.setup(exporter)
    try:
        trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)

        async def request() -> None:
            with tracing.server_span("POST", "/v1.41/containers/abc/start", {"traceparent": f"00-{trace_id}-{parent_id}-01"}) as span:
                await child_async()
                tracing.annotate_server_span(span, "POST", "/containers/{id}/start", 204, "rid")

        asyncio.run(request())
        asyncio.run(child_async())  # outside any request: no root spans of its own
    finally:
        tracing.shutdown()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"POST /containers/{id}/start", "child.async", "child.sync 2"}
    server = spans["POST /containers/{id}/start"]
    assert format(server.context.trace_id, "032x") == trace_id
    assert format(server.parent.span_id, "016x") == parent_id
    assert server.attributes["http.response.status_code"] == 204
    assert spans["child.async"].parent.span_id == server.context.span_id
    assert spans["child.sync 2"].parent.span_id == spans["child.async"].context.span_id
    assert not tracing.enabled()
    assert tracing.wanted(False, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert not tracing.wanted(True, {"OTEL_SDK_DISABLED": "true"}) and not tracing.wanted(False, {})


@pytest.mark.skipif(os.geteuid() != 0, reason="whiteouts and trusted.* xattrs need root")
def test_it_reads_whiteouts_and_opaque_dirs_through_two_layers(tmp_path: Path) -> None:
    base, top, upper = tmp_path / "base", tmp_path / "top", tmp_path / "upper"
    for d in ("base/etc/skel", "base/srv/old", "base/opt", "top/srv", "upper/srv/fresh", "upper/opt", "upper/etc"):
        (tmp_path / d).mkdir(parents=True)
    (base / "etc/skel/.profile").write_text("x")
    (base / "srv/old/file").write_text("x")
    (base / "srv/keep").write_text("x")
    (base / "gone-below").write_text("x")
    os.mknod(top / "gone-below", 0o600 | 0o020000, 0)  # deleted by the image's top layer
    (top / "srv/added-by-top").write_text("x")
    os.setxattr(upper / "srv", "trusted.overlay.opaque", b"y")  # rm -rf /srv; mkdir -p /srv/fresh
    os.mknod(upper / "etc/skel", 0o600 | 0o020000, 0)  # rm -rf /etc/skel
    os.chmod(upper / "opt", 0o700)  # chmod 700 /opt
    (upper / "etc/hosts").write_text("")  # a mount point: not a change
    got = [str(c) for c in container_changes(str(upper), [str(top), str(base)])]
    assert got == ["C /etc", "D /etc/skel", "C /opt", "C /srv", "D /srv/added-by-top", "A /srv/fresh",
                   "D /srv/keep", "D /srv/old"]


# -- the session's engine --------------------------------------------------------------------
def test_it_is_ready_after_start_and_says_why_not(engine: EngineProcess, docker) -> None:  # type: ignore[no-untyped-def]
    status, _, body = call(engine, "GET", "/_berth/ready")
    assert status == 200 and json.loads(body) == {"ready": True, "reasons": []}
    subprocess.run(["nft", "delete", "table", "ip", engine.nft_table], check=True)
    try:
        status, _, body = call(engine, "GET", "/v1.41/_berth/ready")
        assert status == 503
        assert json.loads(body)["reasons"] == [f"nftables table ip {engine.nft_table} is missing"]
        assert call(engine, "GET", "/_ping")[0] == 200  # liveness is not readiness
    finally:
        docker("network", "create", "ready-probe", check=True)  # any network change rebuilds the table
        docker("network", "rm", "ready-probe", check=True)
    assert call(engine, "GET", "/_berth/ready")[0] == 200


def test_it_counts_real_work_in_metrics(engine: EngineProcess, docker) -> None:  # type: ignore[no-untyped-def]
    before = scrape(engine)
    docker("run", "--rm", "busybox", "true", check=True)
    docker("run", "-d", "--name", "sick", "--health-cmd", "false", "--health-interval", "100ms",
           "--health-retries", "1", "busybox", "sleep", "30", check=True)
    docker("run", "-d", "--name", "flaky", "--restart", "on-failure:1", "busybox", "false", check=True)
    docker("restart", "-t", "0", "sick", check=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        after = scrape(engine)
        if (value(after, "berth_engine_container_restarts_total", trigger="policy")
                > value(before, "berth_engine_container_restarts_total", trigger="policy")
                and value(after, "berth_engine_health_checks_total", result="failure")
                > value(before, "berth_engine_health_checks_total", result="failure")):
            break
        time.sleep(0.1)

    def grew(name: str, by: float = 1, **labels: str) -> bool:
        return value(after, name, **labels) - value(before, name, **labels) >= by

    assert grew("berth_engine_container_restarts_total", trigger="policy")
    assert grew("berth_engine_container_restarts_total", trigger="manual")
    assert grew("berth_engine_health_checks_total", result="failure")
    assert grew("berth_engine_container_start_duration_seconds_count", by=4)  # run, run, run, restart (+ policy)
    assert grew("berth_engine_api_requests_total", by=3, method="POST", route="/containers/{id}/start", status="204")
    assert grew("berth_engine_api_request_duration_seconds_count", by=3, method="POST", route="/containers/create",
                status="201")
    assert grew("berth_engine_events_total", by=4, type="container", action="start")
    assert grew("berth_engine_events_total", type="container", action="health_status")
    assert value(after, "berth_engine_containers", state="running") >= 1
    assert value(after, "berth_engine_image_store_bytes") > 1_000_000
    routes = {dict(labels).get("route", "") for _, labels in after}
    assert "/containers/{id}/start" in routes
    assert not [r for r in routes if re.search(r"[0-9a-f]{12}|sick|flaky", r)]  # templates, never raw paths
    _, headers, _ = call(engine, "GET", "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert headers["content-type"].startswith("application/openmetrics-text")


# -- an engine with JSON logs and OTLP traces ------------------------------------------------
@pytest.fixture(scope="module")
def traced_engine() -> Iterator[tuple[EngineProcess, OtlpReceiver]]:
    if os.geteuid() != 0:
        pytest.skip("the engine needs root")
    receiver = OtlpReceiver()
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    e = EngineProcess()
    try:
        e.start(["--log-format", "json"])
        e.bootstrap_busybox()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        yield e, receiver
    finally:
        leaks = e.cleanup()
        receiver.close()
        assert not leaks, f"the engine left things behind: {leaks}"


def test_it_carries_request_ids_into_replies_and_json_log_lines(traced_engine: tuple[EngineProcess, OtlpReceiver]) -> None:
    engine, _ = traced_engine
    _, headers, _ = call(engine, "GET", "/v1.41/containers/json", headers={"X-Request-Id": "console-req-42"})
    assert headers["x-request-id"] == "console-req-42"
    _, headers, _ = call(engine, "GET", "/v1.41/containers/json", headers={"X-Request-Id": "no good"})
    assert headers["x-request-id"] != "no good" and len(headers["x-request-id"]) == 16
    status, headers, _ = call(engine, "GET", "/v1.41/containers/nonesuch/json", headers={"X-Request-Id": "req-404"})
    assert status == 404 and headers["x-request-id"] == "req-404"
    lines = [json.loads(line) for line in engine.log_path.read_text().splitlines() if line.startswith("{")]
    mine = [line for line in lines if line["request_id"] == "console-req-42"]
    assert mine and mine[0]["logger"] == "engine.api.access" and mine[0]["route"] == "/containers/json"
    assert {"time", "level", "logger", "message", "request_id"} <= set(mine[0])
    assert any(line["request_id"] == "req-404" and line["status"] == 404 for line in lines)
    assert all(line.get("request_id") is None for line in lines if line["message"].startswith("Berth engine"))


def test_it_joins_the_callers_trace_with_runc_and_network_spans(traced_engine: tuple[EngineProcess, OtlpReceiver]) -> None:
    engine, receiver = traced_engine
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    traceparent = {"traceparent": f"00-{trace_id}-{caller_span}-01"}
    status, _, body = call(engine, "POST", "/v1.41/containers/create", {"Image": "busybox", "Cmd": ["sleep", "30"]},
                           headers=traceparent)
    assert status == 201
    cid = json.loads(body)["Id"]
    try:
        assert call(engine, "POST", f"/v1.41/containers/{cid}/start", headers=traceparent)[0] == 204

        def complete(spans: list[ReceivedSpan]) -> bool:
            names = {s.name for s in spans if s.trace_id == trace_id}
            return {"POST /containers/{id}/start", "runc start", "conmon: runc create", "network.attach"} <= names

        spans = [s for s in receiver.wait_for(complete) if s.trace_id == trace_id]
    finally:
        call(engine, "DELETE", f"/v1.41/containers/{cid}?force=1")
    by_name = {s.name: s for s in spans}
    server = by_name["POST /containers/{id}/start"]
    assert server.kind == SPAN_KIND_SERVER and server.parent_span_id == caller_span
    assert server.service == "berth-engine" and server.attributes["http.response.status_code"] == 204
    assert by_name["POST /containers/create"].parent_span_id == caller_span
    start = by_name["container.start"]
    assert start.parent_span_id == server.span_id
    for child in ("rootfs.mount", "network.attach", "conmon: runc create", "runc start"):
        assert by_name[child].parent_span_id == start.span_id, child
