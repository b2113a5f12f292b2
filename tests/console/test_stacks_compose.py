"""The compose implementation (console/stacks/compose) against the session's real Berth engine, without
Django: the course's stack up with service_healthy ordering, a redeploy that recreates only what changed,
scale, stop/start, down keeping the named volume."""

from __future__ import annotations

import docker as docker_sdk
import pytest

from console.stacks.compose import LoadOptions, load_project
from console.stacks.compose.apply import ApplyError, Hooks, down, start, stop, up
from tests.compat.test_networks import free_range, http_get
from tests.console.stacks_support import Recorder, build_course_images, cleanup_project, course_text, project_name


@pytest.fixture
def images(engine, tmp_path_factory):  # type: ignore[no-untyped-def]
    suffix = project_name()
    tags = build_course_images(engine, tmp_path_factory.mktemp("course"), suffix)
    yield tags
    engine.docker("rmi", "-f", *tags.values())


@pytest.fixture
def project(engine):  # type: ignore[no-untyped-def]
    name = project_name()
    yield name
    cleanup_project(engine, name)


def client_for(engine):  # type: ignore[no-untyped-def]
    return docker_sdk.DockerClient(base_url=engine.host, version="auto")


def load(text: str, name: str, **variables: str):  # type: ignore[no-untyped-def]
    return load_project(text, LoadOptions(name, variables)).project


def test_course_stack_up_redeploy_and_down(engine, images, project) -> None:  # type: ignore[no-untyped-def]
    port = free_range(11)
    text = course_text(images)
    client = client_for(engine)
    rec = Recorder()
    plan = up(client, load(text, project, APP_PORTS=f"{port}-{port + 10}"), rec)
    assert plan.count("create") == 2
    app, db = engine.inspect(f"{project}_app_1"), engine.inspect(f"{project}_db_1")
    assert db["State"]["Health"]["Status"] == "healthy"
    assert app["State"]["StartedAt"] > db["State"]["StartedAt"]
    assert any("db is healthy" in line for line in rec.lines)
    labels = app["Config"]["Labels"]
    assert labels["com.docker.compose.project"] == project and labels["com.docker.compose.service"] == "app"
    assert labels["com.docker.compose.container-number"] == "1" and labels["com.docker.compose.oneoff"] == "False"
    assert len(labels["com.docker.compose.config-hash"]) == 64
    assert "app" in app["NetworkSettings"]["Networks"][f"{project}_app-net"]["Aliases"]
    assert "northwind" in http_get(f"http://127.0.0.1:{port}/")
    # the app reaches db by its service name
    ping = engine.docker("exec", f"{project}_app_1", "ping", "-c", "1", "-W", "2", "db")
    assert ping.returncode == 0, ping.stderr

    again = up(client, load(text, project, APP_PORTS=f"{port}-{port + 10}"), Recorder())
    assert again.count("keep") == 2 and again.count("create") == again.count("recreate") == 0

    changed = text.replace("DB_USER=root", "DB_USER=admin")
    redeploy = up(client, load(changed, project, APP_PORTS=f"{port}-{port + 10}"), Recorder())
    assert redeploy.services["app"][0].kind == "recreate" and redeploy.services["db"][0].kind == "keep"
    assert engine.inspect(f"{project}_db_1")["Id"] == db["Id"]
    assert "DB_USER=admin" in engine.inspect(f"{project}_app_1")["Config"]["Env"]

    assert stop(client, project, ["db", "app"], Recorder()) == 2
    assert engine.inspect(f"{project}_app_1")["State"]["Running"] is False
    assert start(client, project, ["db", "app"], Recorder()) == 2
    assert engine.inspect(f"{project}_app_1")["State"]["Running"] is True

    removed = down(client, project, Recorder())
    assert removed["containers"] == 2 and removed["networks"] == 1 and removed["volumes"] == 0
    assert engine.docker("network", "inspect", f"{project}_app-net").returncode != 0
    assert engine.docker("volume", "inspect", f"{project}_data").returncode == 0
    assert down(client, project, Recorder(), remove_volumes=True)["volumes"] == 1


def test_replicas_default_network_limits_and_orphans(engine, project) -> None:  # type: ignore[no-untyped-def]
    text = """
services:
  web:
    image: busybox
    command: sh -c "trap 'exit 0' TERM; sleep 1000 & wait"
    deploy:
      replicas: 2
      resources:
        limits: {cpus: '0.5', memory: 64M}
        reservations: {memory: 16M}
    restart: unless-stopped
    labels: {tier: front}
    environment: {MODE: test}
  job:
    image: busybox
    command: ["true"]
  after:
    image: busybox
    command: ["sleep", "1000"]
    depends_on:
      job: {condition: service_completed_successfully}
"""
    client = client_for(engine)
    up(client, load(text, project), Recorder())
    web2 = engine.inspect(f"{project}_web_2")
    host = web2["HostConfig"]
    assert host["NanoCpus"] == 500_000_000 and host["Memory"] == 64 * 1024 ** 2
    assert host["RestartPolicy"]["Name"] == "unless-stopped" and web2["Config"]["Labels"]["tier"] == "front"
    assert f"{project}_default" in web2["NetworkSettings"]["Networks"]
    assert engine.inspect(f"{project}_after_1")["State"]["Running"] is True
    smaller = text.replace("replicas: 2", "replicas: 1").split("  job:")[0]
    plan = up(client, load(smaller, project), Recorder())
    assert plan.count("remove") == 1 and {o.service for o in plan.orphans} == {"job", "after"}
    assert engine.docker("inspect", f"{project}_web_2").returncode != 0
    down(client, project, Recorder())


def test_an_unhealthy_dependency_stops_the_deploy(engine, project) -> None:  # type: ignore[no-untyped-def]
    text = """
services:
  db:
    image: busybox
    command: ["sleep", "1000"]
    healthcheck: {test: ["CMD", "false"], interval: 1s, retries: 1}
  app:
    image: busybox
    command: ["sleep", "1000"]
    depends_on: {db: {condition: service_healthy}}
"""
    with pytest.raises(ApplyError, match="db is unhealthy"):
        up(client_for(engine), load(text, project), Recorder(), Hooks(wait_timeout=30))
    assert engine.docker("inspect", f"{project}_app_1").returncode != 0


def test_a_console_stack_cannot_build(engine, project) -> None:  # type: ignore[no-untyped-def]
    text = "services:\n  app:\n    image: nope-not-here:v9\n    build: ./app\n"
    with pytest.raises(ApplyError, match="no build context"):
        up(client_for(engine), load(text, project), Recorder())
