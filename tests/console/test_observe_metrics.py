"""The console's /metrics: who may read it, and counters that move with real requests, real websockets
and real Celery tasks run by a real worker process (pushed through Redis). Also the worker's probe command."""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.test import Client, override_settings
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from console.observe import task_metrics
from console.observe.metrics import REGISTRY
from tests.console.websockets import communicator, connect, receive_json_until, run
from tests.support.engine import REPO

CELERY = Path(sys.executable).with_name("celery")
TOKEN = "scrape-" + secrets.token_hex(12)
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(client: Client | None = None) -> Samples:
    with override_settings(BERTH_METRICS_TOKEN=TOKEN):
        response = (client or Client()).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    return parse(response.content.decode())


# -- access ------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_it_lets_administrators_and_the_scrape_token_in_and_nobody_else(admin_client, django_user_model) -> None:  # type: ignore[no-untyped-def]
    with override_settings(BERTH_METRICS_TOKEN=TOKEN):
        anonymous = Client().get("/metrics")
        assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Bearer")
        assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token-000000").status_code == 401
        assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
        user = django_user_model.objects.create_user("viewer", password="x-" + secrets.token_hex(8))
        plain = Client()
        plain.force_login(user)
        assert plain.get("/metrics").status_code == 403
        page = admin_client.get("/metrics", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
        assert page.status_code == 200 and page["Content-Type"].startswith("application/openmetrics-text")
    with override_settings(BERTH_METRICS_TOKEN=""):  # no token configured: a bearer opens nothing
        assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


# -- HTTP and engine calls ---------------------------------------------------------------------
@pytest.mark.django_db
def test_it_counts_requests_by_route_name_and_engine_calls(admin_client, endpoint, run_busybox) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("sleep", "30")
    before = scrape()
    list_url = reverse("containers:list", kwargs={"eid": endpoint.pk})
    assert admin_client.get(list_url).status_code == 200
    assert admin_client.get(list_url).status_code == 200
    assert admin_client.get(reverse("containers:detail", kwargs={"eid": endpoint.pk, "cid": cid[:12]})).status_code == 200
    assert admin_client.get("/no/such/page/").status_code == 404
    after = scrape()

    def grew(name: str, by: float = 1, **labels: str) -> bool:
        return value(after, name, **labels) - value(before, name, **labels) >= by

    assert grew("berth_console_http_requests_total", 2, method="GET", route="containers:list", status="200")
    assert grew("berth_console_http_request_duration_seconds_count", 1, method="GET", route="containers:detail",
                status="200")
    assert grew("berth_console_http_requests_total", method="GET", route="unmatched", status="404")
    assert grew("berth_console_engine_request_duration_seconds_count", 3, method="GET", status="200")
    routes = {dict(labels).get("route", "") for _, labels in after}
    assert not [r for r in routes if "/" in r or cid[:12] in r]  # names, never raw paths
    assert value(after, "process_resident_memory_bytes") > 0


# -- websockets --------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_it_counts_websocket_connections_and_messages(admin_user, endpoint, docker) -> None:  # type: ignore[no-untyped-def]
    consumer = {"consumer": "EngineEventsConsumer"}

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, {**consumer, **labels}) or 0.0

    open_before = sample("berth_console_websocket_connections")
    accepted = sample("berth_console_websocket_connects_total", outcome="accepted")
    sent_in, sent_out = (sample("berth_console_websocket_messages_total", direction=d) for d in ("in", "out"))
    cid = docker("create", "busybox", "true", check=True).out
    comm = communicator(f"/ws/endpoints/{endpoint.pk}/events/", admin_user)

    async def scenario() -> float:
        await connect(comm)
        await comm.send_json_to({"hello": "engine"})
        await asyncio.sleep(0.5)  # the engine stream opens in a thread
        await sync_to_async(docker)("start", cid)
        await receive_json_until(comm, lambda m: bool(m.get("events")))
        during = sample("berth_console_websocket_connections")
        await comm.disconnect()
        return during

    during = run(scenario)
    assert during == open_before + 1
    assert sample("berth_console_websocket_connections") == open_before
    assert sample("berth_console_websocket_connects_total", outcome="accepted") == accepted + 1
    assert sample("berth_console_websocket_messages_total", direction="in") == sent_in + 1
    assert sample("berth_console_websocket_messages_total", direction="out") >= sent_out + 1

    refused = REGISTRY.get_sample_value("berth_console_websocket_connects_total",
                                        {"consumer": "EngineEventsConsumer", "outcome": "refused"}) or 0.0
    foreign = communicator(f"/ws/endpoints/{endpoint.pk}/events/", admin_user)
    foreign.scope["headers"] = [(b"origin", b"http://evil.example"), (b"host", b"127.0.0.1")]

    async def refused_scenario() -> bool:
        connected, _ = await foreign.connect(timeout=10)
        return connected

    assert run(refused_scenario) is False
    assert REGISTRY.get_sample_value("berth_console_websocket_connects_total",
                                     {"consumer": "EngineEventsConsumer", "outcome": "refused"}) == refused + 1


# -- Celery tasks in a real worker -------------------------------------------------------------
@dataclass
class Worker:
    base: Path
    redis_url: str
    node: str
    proc: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY", "DEBUG")}
        env.update(DJANGO_SETTINGS_MODULE="console.settings", BERTH_VAR_DIR=str(self.base / "var"),
                   DATABASE_URL=f"sqlite:///{self.base / 'console.sqlite3'}", REDIS_URL=self.redis_url,
                   BERTH_ENGINE_HOST="unix:///nonexistent/engine.sock", LOG_LEVEL="WARNING")
        return env

    def manage(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "manage.py", *argv], cwd=REPO, env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def start(self) -> None:
        log = open(self.base / "worker.log", "ab")
        self.proc = subprocess.Popen(
            [str(CELERY), "-A", "console", "worker", "-I", "tests.console.observe_tasks", "-c", "1", "-n", self.node,
             "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
            cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def log_tail(self) -> str:
        return (self.base / "worker.log").read_text(errors="replace")[-3000:]


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Worker]:
    if "REDIS_URL" not in os.environ:
        pytest.skip("redis-server is not installed")
    (tmp_path / "var").mkdir(mode=0o700)
    w = Worker(tmp_path, f"{os.environ['REDIS_URL']}?db={random.randint(1, 15)}", f"observe-{secrets.token_hex(3)}@%h")
    done = w.manage("migrate", "--noinput", "-v", "0")
    assert done.returncode == 0, done.stderr
    from console.observe import redis_conn

    redis_conn.client(w.redis_url).delete(task_metrics.KEY)
    w.start()
    try:
        yield w
    finally:
        w.stop()


def test_it_counts_celery_tasks_run_by_a_worker_process(worker: Worker) -> None:
    from console.celery import app
    from console.lib.urls import celery_broker_url

    with override_settings(REDIS_URL=worker.redis_url):
        before = scrape()
        with app.connection_for_write(celery_broker_url(worker.redis_url)) as conn:
            for _ in range(2):
                app.send_task("observe_test.ok", kwargs={"seconds": 0.05}, connection=conn)
            app.send_task("observe_test.boom", connection=conn)
        deadline = time.monotonic() + 60
        while True:
            after = scrape()
            if (value(after, "berth_console_celery_tasks_total", task="observe_test.ok", state="success") >= 2
                    and value(after, "berth_console_celery_task_failures_total", task="observe_test.boom",
                              exception="DeliberateFailure") >= 1):
                break
            assert time.monotonic() < deadline, f"no task figures: {worker.log_tail()}"
            time.sleep(0.2)
    assert value(before, "berth_console_celery_tasks_total", task="observe_test.ok", state="success") == 0
    assert value(after, "berth_console_celery_tasks_total", task="observe_test.boom", state="failure") == 1
    assert value(after, "berth_console_celery_task_duration_seconds_count", task="observe_test.ok") == 2
    assert value(after, "berth_console_celery_task_duration_seconds_sum", task="observe_test.ok") >= 0.1
    assert value(after, "berth_console_celery_task_duration_seconds_bucket", task="observe_test.ok", le="0.01") == 0
    assert value(after, "berth_console_celery_task_duration_seconds_bucket", task="observe_test.ok", le="+Inf") == 2
    assert value(after, "berth_console_celery_metrics_readable") == 1

    ping = worker.manage("worker_ping", "--node", worker.node, "--timeout", "5", timeout=60)
    assert ping.returncode == 0, ping.stderr
    assert "pong from observe-" in ping.stdout
    absent = worker.manage("worker_ping", "--node", "nobody@nowhere", "--timeout", "1", timeout=60)
    assert absent.returncode == 1 and "no answer from nobody@nowhere" in absent.stderr


def test_worker_ping_fails_fast_when_the_broker_is_gone(tmp_path: Path) -> None:
    w = Worker(tmp_path, f"unix://{tmp_path}/nobody.sock", "x@%h")
    started = time.monotonic()
    done = w.manage("worker_ping", "--timeout", "2", timeout=60)
    assert done.returncode == 1 and "no answer" in done.stderr
    assert time.monotonic() - started < 15


def test_the_task_figures_become_prometheus_families() -> None:
    fields = {"runs|a.b|success": "3", "runs|a.b|failure": "1", "failures|a.b|ValueError": "1", "count|a.b": "4",
              "sum|a.b": "1.5", "bucket|a.b|0.5": "2", "bucket|a.b|1.0": "3", "bucket|a.b|+Inf": "4"}
    families = {f.name: f for f in task_metrics.families(fields)}
    runs = {tuple(s.labels.values()): s.value for s in families["berth_console_celery_tasks"].samples}
    assert runs == {("a.b", "success"): 3, ("a.b", "failure"): 1}
    hist = {(s.name, s.labels.get("le")): s.value for s in families["berth_console_celery_task_duration_seconds"].samples}
    assert hist[("berth_console_celery_task_duration_seconds_bucket", "0.1")] == 0
    assert hist[("berth_console_celery_task_duration_seconds_bucket", "1.0")] == 3
    assert hist[("berth_console_celery_task_duration_seconds_count", None)] == 4
