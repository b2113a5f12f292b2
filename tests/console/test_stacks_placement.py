"""A stack spread over two hosts, deployed from the console: `web` on host A, `db` on host B, one overlay network.

Two Berth engines run as hosts in network namespaces on an underlay bridge sharing one etcd
(tests/support/cluster.py, as tests/engine/test_overlay.py uses it), registered as console endpoints by their
unix sockets. The stack is written in the console's editor and deployed as a job; web reaches db by name
over the overlay; the page shows each service's endpoint; stop, start and remove act on both hosts, and
remove leaves no container and no network on either. A spread stack on engines without a cluster store is
refused with a clear message before anything is made.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from console.endpoints.models import Endpoint
from console.jobs.framework import execute
from console.jobs.models import Job
from console.stacks.models import Stack
from tests.console.stacks_support import cleanup_project, project_name
from tests.console.websockets import communicator, connect, receive_json_until, run
from tests.support.cluster import Cluster

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the engine needs root"),
    pytest.mark.skipif(shutil.which("etcd") is None, reason="needs etcd (Debian's etcd-server)"),
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]
T = TypeVar("T")

COMPOSE = """\
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo web starts; mkdir -p /www && echo web-on-a > /www/index.html && exec httpd -f -p 80 -h /www"]
    x-berth-endpoint: {a}
    depends_on:
      db: {{condition: service_healthy}}
    networks: [back]
  db:
    image: busybox
    command: ["sh", "-c", "echo db starts; mkdir -p /www && echo db-on-b > /www/index.html && exec httpd -f -p 5432 -h /www"]
    labels:
      berth.endpoint: {b}
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://127.0.0.1:5432/"]
      interval: 1s
      timeout: 5s
      retries: 60
    networks: [back]
networks:
  back: {{}}
"""


def wait_for(what: str, probe: Callable[[], T], timeout: float = 90, every: float = 0.5) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last: {value!r})")
        time.sleep(every)


def run_job(response) -> Job:  # type: ignore[no-untyped-def]
    assert response.status_code == 302, response.content.decode()[:3000]
    assert response["Location"].startswith("/jobs/"), response["Location"]
    job = Job.objects.get(pk=int(response["Location"].strip("/").split("/")[1]))
    execute(job.pk, job.dispatches)
    job.refresh_from_db()
    return job


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    c = Cluster(hosts=2)
    try:
        c.start()
        yield c
    finally:
        leaks = c.cleanup()
        assert not leaks, f"the cluster left things behind: {leaks}"


def project_rows(engine, name: str, *flags: str) -> list[str]:  # type: ignore[no-untyped-def]
    out = engine.docker("ps", *flags, "--filter", f"label=com.docker.compose.project={name}", "--format",
                        "{{.Names}}", check=True).out
    return sorted(out.split())


def project_networks(engine, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    out = engine.docker("network", "ls", "--filter", f"label=com.docker.compose.project={name}", "--format",
                        "{{.Name}} {{.Driver}}", check=True).out
    return sorted(out.splitlines())


def combined_logs(stack: Stack, user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The first line of each container in the stack's combined logs websocket (containers on both hosts)."""
    comm = communicator(f"/ws/endpoints/{stack.endpoint_id}/stacks/{stack.pk}/logs/?tail=5", user)
    seen: dict[str, str] = {}

    def take(m: dict) -> None:
        for who, _service, _stream, _ts, text in m.get("lines", []):
            seen.setdefault(who, text)

    async def scenario() -> None:
        await connect(comm)
        first = await receive_json_until(comm, lambda m: "containers" in m)
        assert first[0] == {"containers": ["db_1", "web_1"]}
        await receive_json_until(comm, lambda m: len(seen) >= 2, on_message=take, timeout=60)
        await comm.disconnect()

    run(scenario)
    return seen


def test_a_stack_runs_web_on_host_a_and_db_on_host_b(cluster, admin_client, admin_user) -> None:  # type: ignore[no-untyped-def]
    a, b = cluster.hosts
    name = project_name()
    home = Endpoint.objects.create(name=f"host-a-{name}", url=a.engine.host)
    other = Endpoint.objects.create(name=f"host-b-{name}", url=b.engine.host)
    try:
        job = run_job(admin_client.post(f"/endpoints/{home.pk}/stacks/new/", {
            "name": name, "compose": COMPOSE.format(a=home.name, b=other.name)}))
        assert job.state == "succeeded", job.error
        stack = Stack.objects.get(endpoint=home, name=name)
        assert stack.placement == {"web": home.pk, "db": other.pk}
        assert project_rows(a.engine, name) == [f"{name}_web_1"] and project_rows(b.engine, name) == [f"{name}_db_1"]
        for engine in (a.engine, b.engine):
            assert project_networks(engine, name) == [f"{name}_back overlay"]

        page = wait_for("a page from db on host b, asked by web on host a", lambda: a.engine.docker(
            "exec", f"{name}_web_1", "timeout", "5", "wget", "-qO-", "http://db:5432/").out)
        assert page == "db-on-b"
        back = b.engine.docker("exec", f"{name}_db_1", "timeout", "5", "wget", "-qO-", f"http://{name}_web_1/")
        assert back.out == "web-on-a", back.stderr

        html = admin_client.get(stack.get_absolute_url()).content.decode()
        assert f'data-endpoint>{home.name}<' in html and f'data-endpoint>{other.name}<' in html
        api = admin_client.get(f"/api/endpoints/{home.pk}/stacks/{stack.pk}/").json()
        assert {c["service"]: c["endpoint_name"] for c in api["service_containers"]} == {"web": home.name,
                                                                                         "db": other.name}
        assert combined_logs(stack, admin_user) == {"db_1": "db starts", "web_1": "web starts"}
        assert name in admin_client.get(f"/endpoints/{other.pk}/stacks/").content.decode()  # listed on B, not "limited"

        assert run_job(admin_client.post(f"/endpoints/{home.pk}/stacks/{stack.pk}/stop/")).state == "succeeded"
        assert project_rows(a.engine, name) == [] and project_rows(b.engine, name) == []
        assert run_job(admin_client.post(f"/endpoints/{home.pk}/stacks/{stack.pk}/start/")).state == "succeeded"
        assert project_rows(a.engine, name) == [f"{name}_web_1"] and project_rows(b.engine, name) == [f"{name}_db_1"]

        assert run_job(admin_client.post(f"/endpoints/{home.pk}/stacks/{stack.pk}/remove/")).state == "succeeded"
        assert not Stack.objects.filter(pk=stack.pk).exists()
        for engine in (a.engine, b.engine):
            assert project_rows(engine, name, "-a") == []
            wait_for("the overlay network gone", lambda e=engine: not project_networks(e, name), timeout=60)
        assert not a.vxlan_devices() and not b.vxlan_devices()
    finally:
        for h in (a, b):
            cleanup_project(h.engine, name)


def test_a_spread_stack_needs_a_cluster_store(engine, admin_client) -> None:  # type: ignore[no-untyped-def]
    name = project_name()
    one = Endpoint.objects.create(name=f"plain-1-{name}", url=engine.host)
    two = Endpoint.objects.create(name=f"plain-2-{name}", url=engine.host)
    try:
        job = run_job(admin_client.post(f"/endpoints/{one.pk}/stacks/new/", {
            "name": name, "compose": COMPOSE.format(a=one.name, b=two.name)}))
        assert job.state == "failed"
        assert "network back joins services on" in job.error and "has no cluster store" in job.error, job.error
        assert project_rows(engine, name, "-a") == [] and project_networks(engine, name) == []
    finally:
        cleanup_project(engine, name)
