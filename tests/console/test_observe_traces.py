"""One console request that calls the engine is one trace, and one request id, on both sides.

The console traces in-process into the OpenTelemetry SDK's in-memory exporter;
the engine — started here with `--log-format json` — exports its spans over
OTLP/HTTP to tests/support/otlp.py's receiver. The trees must join: console
view span → engine client span → engine server span → engine child spans, with
one trace id; and the request id the console chose is in its JSON log lines and
in the engine's.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from console.observe import logs, outgoing, tracing
from console.observe.context import REQUEST_ID
from tests.support.engine import REPO, EngineProcess
from tests.support.otlp import SPAN_KIND_SERVER, OtlpReceiver, ReceivedSpan


@pytest.fixture(scope="module")
def traced_engine() -> Iterator[tuple[EngineProcess, OtlpReceiver]]:
    if os.geteuid() != 0:
        pytest.skip("the engine needs root")
    receiver = OtlpReceiver()
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # for the engine's process only: the console's tracing is set up by each test
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


@pytest.fixture
def traced_endpoint(traced_engine: tuple[EngineProcess, OtlpReceiver]) -> Any:
    from console.endpoints.models import Endpoint

    return Endpoint.objects.create(name="traced", url=traced_engine[0].host)


@pytest.fixture
def console_spans() -> Iterator[Any]:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    tracing.setup(exporter)
    try:
        yield exporter
    finally:
        tracing.shutdown()


def hexid(n: int, width: int) -> str:
    return format(n, f"0{width}x")


@pytest.mark.django_db
def test_a_console_request_and_the_engine_work_it_causes_are_one_trace(
        traced_engine: tuple[EngineProcess, OtlpReceiver], traced_endpoint: Any, console_spans: Any,
        admin_client: Client) -> None:
    engine, receiver = traced_engine
    cid = engine.docker("create", "busybox", "sleep", "30", check=True).out
    try:
        url = reverse("api-container-action", kwargs={"eid": traced_endpoint.pk, "cid": cid, "action": "start"})
        response = admin_client.post(url)
        assert response.status_code == 204, response.content
        mine = console_spans.get_finished_spans()
        view = next(s for s in mine if s.name == "POST api-container-action")
        trace_id = hexid(view.context.trace_id, 32)
        call = next(s for s in mine if s.name == "engine POST /containers/{id}/start")

        def complete(spans: list[ReceivedSpan]) -> bool:
            names = {s.name for s in spans if s.trace_id == trace_id}
            return {"POST /containers/{id}/start", "container.start", "runc start"} <= names

        engine_spans = [s for s in receiver.wait_for(complete) if s.trace_id == trace_id]
    finally:
        engine.docker("rm", "-f", cid)
    assert view.kind.name == "SERVER" and view.parent is None
    assert view.attributes["http.route"] == "api-container-action"
    assert view.attributes["http.response.status_code"] == 204
    assert call.kind.name == "CLIENT" and call.parent.span_id == view.context.span_id
    assert hexid(call.context.trace_id, 32) == trace_id
    by_name = {s.name: s for s in engine_spans}
    server = by_name["POST /containers/{id}/start"]
    assert server.kind == SPAN_KIND_SERVER and server.service == "berth-engine"
    assert server.parent_span_id == hexid(call.context.span_id, 16)  # the engine continued the client span
    start = by_name["container.start"]
    assert start.parent_span_id == server.span_id
    assert by_name["runc start"].parent_span_id == start.span_id
    # Every engine call of the request is in it: the version negotiation too.
    assert all(s.parent.span_id == view.context.span_id for s in mine if s.name.startswith("engine "))
    assert {s.name for s in mine if s.name.startswith("engine ")} >= {"engine GET /version",
                                                                       "engine POST /containers/{id}/start"}


@pytest.mark.django_db
def test_the_request_id_is_in_the_console_and_the_engine_json_log_lines(
        traced_engine: tuple[EngineProcess, OtlpReceiver], traced_endpoint: Any, admin_client: Client) -> None:
    engine, _ = traced_engine
    out = io.StringIO()
    config = logs.logging_config("json", "INFO")
    assert config["handlers"]["stderr"]["formatter"] == "json" and config["handlers"]["stderr"]["filters"] == ["request"]
    handler = logging.StreamHandler(out)  # the handler settings.LOGGING makes, writing here instead of stderr
    handler.addFilter(logs.RequestContext())
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        rid = "console-test-4f1a"
        url = reverse("containers:list", kwargs={"eid": traced_endpoint.pk})
        response = admin_client.get(url, HTTP_X_REQUEST_ID=rid)
        assert response.status_code == 200 and response["X-Request-Id"] == rid
        missing = admin_client.get(reverse("containers:detail", kwargs={"eid": traced_endpoint.pk, "cid": "nonesuch"}),
                                   HTTP_X_REQUEST_ID=rid + "-404")
        assert missing.status_code == 404
        bad = admin_client.get(url, HTTP_X_REQUEST_ID="no good\r\nid")
        chosen = bad["X-Request-Id"]
        assert chosen != "no good\r\nid" and len(chosen) == 16
    finally:
        root.removeHandler(handler)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "console.access" and line["request_id"] == rid]
    assert access and access[0]["route"] == "containers:list" and access[0]["status"] == 200
    assert {"time", "level", "logger", "message", "request_id", "duration_ms"} <= set(access[0])
    assert any(line["request_id"] == rid + "-404" and line["logger"] == "django.request" for line in lines)
    assert any(line["request_id"] == chosen for line in lines)
    engine_lines = [json.loads(line) for line in engine.log_path.read_text().splitlines() if line.startswith("{")]
    routes = {line.get("route") for line in engine_lines if line.get("request_id") == rid}
    assert {"/version", "/containers/json"} <= routes  # every engine call of the request carried it
    assert any(line.get("request_id") == rid + "-404" and line.get("status") == 404 for line in engine_lines)


@pytest.mark.django_db
def test_a_websocket_connection_has_a_span_and_a_request_id(traced_endpoint: Any, console_spans: Any,
                                                           admin_user: Any) -> None:
    from tests.console.websockets import communicator, connect, run

    comm = communicator(f"/ws/endpoints/{traced_endpoint.pk}/events/", admin_user)
    comm.scope["headers"].append((b"x-request-id", b"ws-test-1"))

    async def scenario() -> None:
        await connect(comm)
        await comm.disconnect()

    run(scenario)
    [span] = [s for s in console_spans.get_finished_spans() if s.name == "WS EngineEventsConsumer"]
    assert span.kind.name == "SERVER" and span.attributes["http.response.status_code"] == 101
    assert span.attributes["berth.request_id"] == "ws-test-1"


def test_engine_calls_carry_the_request_id_and_name_their_path_templates() -> None:
    assert outgoing.path_template("/v1.41/containers/3f2a9c/start?t=1") == "/containers/{id}/start"
    assert outgoing.path_template("/v1.41/containers/json?all=1") == "/containers/json"
    assert outgoing.path_template("/version") == "/version"
    assert outgoing.path_template("/v1.41/images/library/busybox:1.36/json") == "/images/{name}/json"
    assert outgoing.path_template("/v1.41/images/busybox") == "/images/{name}"
    assert outgoing.path_template("/v1.41/exec/abc/start") == "/exec/{id}/start"
    assert outgoing.path_template("/v1.41/networks/create") == "/networks/create"

    class Sent:
        headers: dict[str, str] = {}

    def send(request: Any, **kwargs: Any) -> Any:
        Sent.headers = dict(request.headers)
        return type("R", (), {"status_code": 200})()

    import requests

    prepared = requests.Request("GET", "http+docker://localhost/v1.41/containers/json").prepare()
    token = REQUEST_ID.set("rid-7")
    try:
        outgoing.observed_send(send, prepared)
    finally:
        REQUEST_ID.reset(token)
    assert Sent.headers["X-Request-Id"] == "rid-7" and "traceparent" not in Sent.headers  # tracing is off


def test_tracing_off_imports_no_opentelemetry() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_") and k != "BERTH_OTEL"}
    env["DJANGO_SETTINGS_MODULE"] = "console.settings"
    # redis-py 8 imports parts of OpenTelemetry (its metrics SDK) by itself; the tracing SDK, the
    # propagator and the exporter are ours to import, and only when tracing is on.
    ours = ("opentelemetry.sdk.trace", "opentelemetry.exporter", "opentelemetry.trace.propagation.tracecontext")
    code = ("import django, sys; django.setup(); import console.asgi; from django.test import Client; "
            "from console.observe import tracing; Client().get('/healthz/live'); "
            f"print(tracing.enabled(), sorted(m for m in sys.modules if m.startswith({ours!r})))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False []"
    assert tracing.wanted({"BERTH_OTEL": "1"}) and tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"})
    assert not tracing.wanted({}) and not tracing.wanted({"BERTH_OTEL": "1", "OTEL_SDK_DISABLED": "true"})
