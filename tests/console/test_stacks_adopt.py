"""Stacks made elsewhere and other engines: a project brought up by Debian's docker-compose on the host
appears as "limited", is adopted (its compose file read from its working_dir label) and redeployed from the
console — building its missing image from the project's directory; and a stack deployed to the real
Docker engine, so the compose implementation is endpoint-agnostic."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator

import pytest

from console.endpoints.models import Endpoint
from console.jobs.models import Job
from console.stacks.models import Stack
from tests.compat.test_compose import COMPOSE, course_project
from tests.compat.test_networks import free_range, http_get
from tests.console.stacks_support import cleanup_project, course_text, project_name
from tests.console.test_stacks_pages import run_job
from tests.support.dockerd import Dockerd, start_dockerd

pytestmark = pytest.mark.django_db(transaction=True)
DOCKER = "/usr/bin/docker"


@pytest.fixture
def compose_project(engine, tmp_path):  # type: ignore[no-untyped-def]
    """(name, directory, tags, run) for a course project up by docker-compose against the test engine."""
    name, suffix = project_name(), secrets.token_hex(3)
    tags = {"app": f"adopt-app-{suffix}:v1", "db": f"adopt-db-{suffix}:v1"}
    directory = course_project(tmp_path, name, course_text(tags))
    port = free_range(11)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**engine.env, "DOCKER_BUILDKIT": "0", "COMPOSE_DOCKER_CLI_BUILD": "0", "APP_PORTS": f"{port}-{port + 10}"}
        return subprocess.run([COMPOSE, "-p", name, *args], cwd=directory, env=env, capture_output=True, text=True,
                              timeout=240, check=False)

    yield name, directory, tags, port, run
    run("down", "-v", "--remove-orphans")
    cleanup_project(engine, name)
    engine.docker("rmi", "-f", *tags.values())


@pytest.mark.skipif(not os.path.exists(COMPOSE), reason="Debian's docker-compose is not installed")
def test_a_docker_compose_stack_is_adopted_and_redeployed(admin_client, endpoint, engine, compose_project) -> None:  # type: ignore[no-untyped-def]
    name, directory, tags, port, run = compose_project
    up = run("up", "-d")
    assert up.returncode == 0, up.stderr
    before = engine.inspect(f"{name}_app_1")

    listing = admin_client.get(f"/endpoints/{endpoint.pk}/stacks/").content.decode()
    assert name in listing and "Limited" in listing and f"/stacks/adopt/{name}/" in listing
    api = {s["name"]: s for s in admin_client.get(f"/api/endpoints/{endpoint.pk}/stacks/").json()}
    assert api[name]["origin"] == "limited" and api[name]["running"] == 2

    form = admin_client.get(f"/endpoints/{endpoint.pk}/stacks/adopt/{name}/").content.decode()
    assert "Read its compose file from" in form and str(directory) in form and tags["app"] in form
    text = (directory / "docker-compose.yml").read_text()
    adopted = admin_client.post(f"/endpoints/{endpoint.pk}/stacks/adopt/{name}/", {
        "compose": text, "var_name": ["APP_PORTS"], "var_value": [f"{port}-{port + 10}"]})
    assert adopted.status_code == 302, adopted.content.decode()[-2000:]
    stack = Stack.objects.get(name=name)
    assert stack.origin == Stack.ADOPTED and stack.working_dir == str(directory)
    assert engine.inspect(f"{name}_app_1")["Id"] == before["Id"]  # adopting changes nothing on the engine

    engine.docker("rmi", "-f", tags["app"])  # gone: the redeploy builds it again from the project's directory
    job = run_job(admin_client.post(f"/endpoints/{endpoint.pk}/stacks/{stack.pk}/edit/", {
        "compose": text, "var_name": ["APP_PORTS"], "var_value": [f"{port}-{port + 10}"]}))
    assert job.state == Job.SUCCEEDED, (job.error, job.log[-3000:])
    assert "app | Step" in job.log and "Plan: 2 to recreate" in job.log
    after = engine.inspect(f"{name}_app_1")
    assert after["Id"] != before["Id"] and after["State"]["Running"]
    assert after["Config"]["Labels"]["com.docker.compose.project.working_dir"] == str(directory)
    assert "northwind" in http_get(f"http://127.0.0.1:{port}/")
    # docker-compose still sees its project (same names and labels) after the console redeployed it
    ps = run("ps", "--services", "--filter", "status=running")
    assert sorted(ps.stdout.split()) == ["app", "db"], ps.stderr
    listing = admin_client.get(f"/endpoints/{endpoint.pk}/stacks/").content.decode()
    assert "Adopted" in listing and f"/stacks/adopt/{name}/" not in listing


def test_adopting_asks_for_the_file_when_the_host_cannot_read_it(admin_client, endpoint, engine, docker) -> None:  # type: ignore[no-untyped-def]
    name = project_name()
    labels = ["--label", f"com.docker.compose.project={name}", "--label", "com.docker.compose.service=web",
              "--label", "com.docker.compose.container-number=1", "--label", "com.docker.compose.oneoff=False",
              "--label", "com.docker.compose.project.working_dir=/nowhere/at/all",
              "--label", "com.docker.compose.project.config_files=docker-compose.yml"]
    docker("run", "-d", "--name", f"{name}_web_1", *labels, "busybox", "sleep", "600", check=True)
    page = admin_client.get(f"/endpoints/{endpoint.pk}/stacks/adopt/{name}/").content.decode()
    assert "cannot be read on the console" in page and "/nowhere/at/all/docker-compose.yml" in page
    refused = admin_client.post(f"/endpoints/{endpoint.pk}/stacks/adopt/{name}/", {"compose": ""})
    assert refused.status_code == 400 and not Stack.objects.filter(name=name).exists()
    done = admin_client.post(f"/endpoints/{endpoint.pk}/stacks/adopt/{name}/", {
        "compose": "services:\n  web:\n    image: busybox\n    command: [sleep, '600']\n"})
    assert done.status_code == 302 and Stack.objects.get(name=name).working_dir == ""


@pytest.fixture(scope="module")
def dockerd() -> Iterator[Dockerd]:
    d = start_dockerd()
    if d is None:
        pytest.skip("Debian's dockerd is not available")
    yield d
    d.stop()


def test_a_stack_on_the_real_docker_engine(admin_client, engine, dockerd, tmp_path) -> None:  # type: ignore[no-untyped-def]
    tag = f"berth-stack-test:{secrets.token_hex(4)}"
    engine.docker("tag", "busybox", tag, check=True)
    archive = tmp_path / "busybox.tar"
    engine.docker("save", "-o", str(archive), tag, check=True)
    real = lambda *a: subprocess.run([DOCKER, "-H", dockerd.host, *a], capture_output=True, text=True, timeout=120)  # noqa: E731
    assert real("load", "-i", str(archive)).returncode == 0
    docker_endpoint = Endpoint.objects.create(name="real-docker", url=dockerd.host)
    name = project_name()
    text = f"""
services:
  db:
    image: {tag}
    command: ["sh", "-c", "trap 'exit 0' TERM; touch /tmp/ready; sleep 600 & wait"]
    healthcheck: {{test: ["CMD", "test", "-f", "/tmp/ready"], interval: 1s, retries: 20}}
    volumes: [data:/data]
  app:
    image: {tag}
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]
    environment: [MODE=one]
    depends_on: {{db: {{condition: service_healthy}}}}
volumes:
  data:
"""
    try:
        job = run_job(admin_client.post(f"/endpoints/{docker_endpoint.pk}/stacks/new/", {"name": name, "compose": text}))
        assert job.state == Job.SUCCEEDED, (job.error, job.log)
        stack = Stack.objects.get(name=name, endpoint=docker_endpoint)
        state = real("inspect", "-f", "{{.State.Health.Status}} {{index .Config.Labels \"com.docker.compose.project\"}}",
                     f"{name}_db_1").stdout.split()
        assert state == ["healthy", name]
        assert real("network", "inspect", f"{name}_default").returncode == 0
        job = run_job(admin_client.post(f"/endpoints/{docker_endpoint.pk}/stacks/{stack.pk}/edit/",
                                        {"compose": text.replace("MODE=one", "MODE=two")}))
        assert job.state == Job.SUCCEEDED and "1 to recreate, 1 up to date" in job.log
        job = run_job(admin_client.post(f"/endpoints/{docker_endpoint.pk}/stacks/{stack.pk}/remove/"))
        assert job.state == Job.SUCCEEDED, job.error
        assert real("inspect", f"{name}_app_1").returncode != 0
        assert real("volume", "inspect", f"{name}_data").returncode == 0
    finally:
        ids = real("ps", "-aq", "--filter", f"label=com.docker.compose.project={name}").stdout.split()
        if ids:
            real("rm", "-f", *ids)
        real("network", "rm", f"{name}_default")
        real("volume", "rm", f"{name}_data")
        real("rmi", tag)
        engine.docker("rmi", tag)


def test_label_paths_are_read_only_for_engines_on_this_host(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A remote engine's compose labels name another machine's files: the console never reads them here."""
    from console.stacks.discovery import EngineProject, readable_compose

    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    (tmp_path / "secret.txt").write_text("not a compose file\n")
    here = EngineProject("p", working_dir=str(tmp_path), config_files=["docker-compose.yml"], on_this_host=True)
    assert readable_compose(here) == (str(tmp_path / "docker-compose.yml"), "services: {}\n")
    remote = EngineProject("p", working_dir=str(tmp_path), config_files=["docker-compose.yml"], on_this_host=False)
    assert readable_compose(remote) is None
    other = EngineProject("p", working_dir=str(tmp_path), config_files=["secret.txt"], on_this_host=True)
    assert readable_compose(other) is None
