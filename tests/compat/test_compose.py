"""Debian's docker-compose 1.29.2 against the engine, on the course's stack.

The course's compose file (version '3': volume `data`, network `app-net`, an `app`
built from ./app publishing 8080-8090:3000, a `db`) with busybox standing in for
node and MySQL, so the images build offline. The app's process traps SIGTERM so
stop, restart and recreate do not wait out the 10 s grace period. Host ports come
from a free range passed through compose's own interpolation (${APP_PORTS}).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import docker as docker_sdk
import pytest

from tests.compat.test_networks import free_range, http_get
from tests.support.engine import EngineProcess, Result
from tests.support.registry import Registry, start_registry

COMPOSE = "/usr/bin/docker-compose"
pytestmark = pytest.mark.skipif(not os.path.exists(COMPOSE), reason="Debian's docker-compose is not installed")

APP_DOCKERFILE = """\
FROM busybox
ARG GREETING=hello
WORKDIR /app
COPY public /app/public
RUN echo "$GREETING" > /app/greeting
EXPOSE 3000
CMD ["sh", "-c", "trap 'exit 0' TERM; echo app up on $APP_PORT db=$DB_HOST; httpd -f -p $APP_PORT -h /app/public & wait"]
"""
DB_DOCKERFILE = """\
FROM busybox
CMD ["sh", "-c", "trap 'exit 0' TERM; echo db starting; sleep 1; touch /tmp/ready; echo db ready; sleep 1000 & wait"]
"""
COURSE_COMPOSE = """\
version: '3'
volumes:
  data:
networks:
  app-net:
services:
  app:
    image: northwind-app:v1
    build:
      context: ./app
    environment:
      - APP_PORT=3000
      - DB_HOST=db
      - DB_USER=root
      - DB_PASSWORD=secret
    ports:
      - "${APP_PORTS:-8080-8090}:3000"
    volumes:
      - data:/app/public
    networks:
      - app-net
    depends_on:
      db:
        condition: service_healthy
  db:
    image: northwind-db:v1
    build:
      context: ./db
    environment:
      - MYSQL_ROOT_PASSWORD=secret
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      retries: 30
    networks:
      - app-net
"""


@dataclass
class Compose:
    """`compose(*args)`: docker-compose in one project directory, against the session's engine."""

    engine: EngineProcess
    cwd: Path
    ports: int

    def __call__(self, *args: str, check: bool = True, timeout: float = 120) -> Result:
        env = {**self.engine.env, "DOCKER_BUILDKIT": "0", "COMPOSE_DOCKER_CLI_BUILD": "0",
               "APP_PORTS": f"{self.ports}-{self.ports + 10}", "PATH": f"/usr/local/bin:{os.environ['PATH']}"}
        proc = subprocess.run([COMPOSE, *args], cwd=self.cwd, env=env, capture_output=True, text=True, timeout=timeout,
                              check=False)
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"docker-compose {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n"
                                 f"{proc.stderr}\n{self.engine.log_tail()}")
        return result

    def running(self) -> list[str]:
        return sorted(self("ps", "--services", "--filter", "status=running").out.split())


def course_project(root: Path, name: str, compose_file: str) -> Path:
    project = root / name
    (project / "app" / "public").mkdir(parents=True)
    (project / "db").mkdir()
    (project / "app" / "Dockerfile").write_text(APP_DOCKERFILE)
    (project / "app" / "public" / "index.html").write_text("<h1>northwind</h1>\n")
    (project / "db" / "Dockerfile").write_text(DB_DOCKERFILE)
    (project / "docker-compose.yml").write_text(compose_file)
    return project


@pytest.fixture
def course(engine: EngineProcess, tmp_path: Path, docker) -> Iterator[Compose]:  # type: ignore[no-untyped-def]
    compose = Compose(engine, course_project(tmp_path, "course", COURSE_COMPOSE), free_range(11))
    try:
        yield compose
    finally:
        compose("down", "-v", "--rmi", "all", "--remove-orphans", check=False)


def test_course_stack_with_docker_compose(course: Compose, engine: EngineProcess, docker) -> None:  # type: ignore[no-untyped-def]
    config = course("config").out
    assert f"published: {course.ports}-{course.ports + 10}" in config and "data:/app/public:rw" in config
    built = course("build")
    assert "Successfully tagged northwind-app:v1" in built.stdout and "Successfully tagged northwind-db:v1" in built.stdout

    up = course("up", "-d")
    for made in ('Creating network "course_app-net"', 'Creating volume "course_data"', "Creating course_db_1",
                 "Creating course_app_1"):
        assert made in up.stderr
    assert course.running() == ["app", "db"]
    # service_healthy: the app started only once db had passed a check
    db, app = engine.inspect("course_db_1"), engine.inspect("course_app_1")
    assert db["State"]["Health"]["Status"] == "healthy" and _healthy_before_start(db, app)
    assert app["Config"]["Labels"]["com.docker.compose.project"] == "course"
    assert app["Config"]["Labels"]["com.docker.compose.service"] == "app"
    assert app["Config"]["Labels"]["com.docker.compose.container-number"] == "1"
    assert sorted(app["NetworkSettings"]["Networks"]) == ["course_app-net"]
    assert app["NetworkSettings"]["IPAddress"] == ""  # as Docker: the legacy fields are the default bridge's
    assert "app" in app["NetworkSettings"]["Networks"]["course_app-net"]["Aliases"]
    assert app["Config"]["Env"][:4] == ["APP_PORT=3000", "DB_HOST=db", "DB_USER=root", "DB_PASSWORD=secret"]
    # the named volume starts with the image's /app/public
    assert http_get(f"http://127.0.0.1:{course.ports}/") == "<h1>northwind</h1>\n"
    assert course("port", "app", "3000").out == f"0.0.0.0:{course.ports}"
    assert "app up on 3000 db=db" in course("logs", "--no-color", "app").stdout
    assert "db ready" in course("logs", "--no-color", "db").stdout
    top = course("top").stdout
    assert "course_app_1" in top and "httpd -f -p 3000" in top and "sleep 1000" in top

    assert "Address: " + db["NetworkSettings"]["Networks"]["course_app-net"]["IPAddress"] in \
        course("exec", "-T", "app", "nslookup", "db").stdout
    assert course("exec", "-T", "app", "sh", "-c", "exit 3", check=False).returncode == 3
    run = course("run", "--rm", "-T", "app", "sh", "-c", "cat /app/greeting; wget -qO- http://app:3000/")
    assert run.stdout == "hello\n<h1>northwind</h1>\n"
    assert course("run", "--rm", "-T", "--no-deps", "app", "sh", "-c", "exit 4", check=False).returncode == 4
    assert docker("ps", "-aq", "--filter", "label=com.docker.compose.oneoff=True").out == ""

    # scale within the port range: the second replica takes the next host port
    scaled = course("up", "-d", "--scale", "app=2")
    assert "Creating course_app_2" in scaled.stderr and "course_db_1 is up-to-date" in scaled.stderr
    assert course("port", "--index=2", "app", "3000").out == f"0.0.0.0:{course.ports + 1}"
    assert http_get(f"http://127.0.0.1:{course.ports + 1}/") == "<h1>northwind</h1>\n"
    course("up", "-d", "--scale", "app=1")
    assert docker("ps", "-a", "--format", "{{.Names}}", "--filter", "name=course_app").out == "course_app_1"

    stop = course("stop")
    assert "Stopping course_app_1 ... done" in stop.stderr and course.running() == []
    assert engine.inspect("course_app_1")["State"]["ExitCode"] == 0
    course("start")
    assert course.running() == ["app", "db"]
    started = _when(engine.inspect("course_app_1")["State"]["StartedAt"])
    course("restart", "app")
    assert _when(engine.inspect("course_app_1")["State"]["StartedAt"]) > started
    course("kill", "app")
    assert course.running() == ["db"] and engine.inspect("course_app_1")["State"]["ExitCode"] == 137
    course("rm", "-f", "app")
    assert docker("ps", "-aq", "--filter", "name=course_app").out == ""
    course("up", "-d")
    course("exec", "-T", "app", "sh", "-c", "echo kept > /app/public/kept.txt")

    # a changed environment recreates only the app; the named volume keeps its data
    compose_file = course.cwd / "docker-compose.yml"
    compose_file.write_text(compose_file.read_text().replace("DB_USER=root", "DB_USER=admin"))
    db_id = engine.inspect("course_db_1")["Id"]
    again = course("up", "-d")
    assert "Recreating course_app_1" in again.stderr and "course_db_1 is up-to-date" in again.stderr
    assert engine.inspect("course_db_1")["Id"] == db_id
    assert course("exec", "-T", "app", "sh", "-c", "echo $DB_USER; cat /app/public/kept.txt").stdout == "admin\nkept\n"

    listed = _sdk_view(engine, "course")
    assert listed == {"course_app_1": ("running", None, str(course.ports)), "course_db_1": ("running", "healthy", None)}

    down = course("down")
    assert "Removing network course_app-net" in down.stderr
    assert docker("ps", "-aq", "--filter", "label=com.docker.compose.project=course").out == ""
    assert "course_app-net" not in docker("network", "ls", "--format", "{{.Name}}").out
    assert docker("volume", "ls", "-q", "--filter", "label=com.docker.compose.project=course").out == "course_data"
    course("down", "-v", "--rmi", "all")
    assert docker("volume", "ls", "-q", "--filter", "label=com.docker.compose.project=course").out == ""
    assert docker("images", "-q", "northwind-app").out == ""


def _when(stamp: str) -> datetime:
    """An RFC 3339 time with up to nanoseconds (Docker trims trailing zeros), to the microsecond."""
    head, _, frac = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}")


def _healthy_before_start(db: dict, app: dict) -> bool:
    passed = [_when(c["End"]) for c in db["State"]["Health"]["Log"] if c["ExitCode"] == 0]
    return bool(passed) and passed[0] <= _when(app["State"]["StartedAt"])


def _sdk_view(engine: EngineProcess, project: str) -> dict[str, tuple[str, str | None, str | None]]:
    """What an SDK client (the console) sees of a compose project: state, health, first host port."""
    client = docker_sdk.DockerClient(base_url=engine.host, version="auto")
    try:
        out = {}
        for c in client.containers.list(filters={"label": f"com.docker.compose.project={project}"}):
            bindings = (c.ports.get("3000/tcp") or [{}])[0]
            out[c.name] = (c.status, c.attrs["State"].get("Health", {}).get("Status"), bindings.get("HostPort"))
        return out
    finally:
        client.close()


V24_COMPOSE = """\
version: '2.4'
volumes:
  data:
networks:
  app-net:
services:
  app:
    image: northwind-app:v2
    build:
      context: ./app
      args:
        GREETING: bonjour
    env_file: app.env
    environment:
      APP_PORT: "3000"
      DB_HOST: database
    ports:
      - "${APP_PORTS}:3000"
    volumes:
      - data:/app/public
      - /scratch
    networks: [app-net]
    restart: unless-stopped
    labels:
      course.part: app
    links: ["db:sql"]
    depends_on:
      db:
        condition: service_healthy
  db:
    image: busybox
    hostname: dbhost
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1; touch /tmp/ready; sleep 1000 & wait"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      retries: 30
    restart: always
    dns: [127.0.0.1]  # a failed lookup stays on loopback
    networks:
      app-net:
        aliases: [database]
  worker:
    image: busybox
    command: ["sh", "-c", "echo attempt; exit 3"]
    restart: on-failure:2
"""


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry | None]:
    if shutil.which("docker-registry") is None:
        yield None
        return
    reg = start_registry(tmp_path_factory.mktemp("compose-registry"))
    yield reg
    reg.stop()


def test_v24_file_healthy_dependency_env_file_args_aliases_links_restart_and_pull(
        engine: EngineProcess, tmp_path: Path, registry: Registry | None, docker) -> None:  # type: ignore[no-untyped-def]
    compose_file = V24_COMPOSE
    if registry is not None:
        cache = f"{registry.host}/course/cache:1"
        docker("tag", "busybox", cache, check=True)
        docker("push", cache, check=True)
        docker("rmi", cache, check=True)
        compose_file += f"  cache:\n    image: {cache}\n    command: [sleep, '1000']\n    init: true\n"
    project = course_project(tmp_path, "stack24", compose_file)
    (project / "app.env").write_text("# from the env file\nFROM_ENV_FILE=yes\nDB_NAME=northwind\n")
    compose = Compose(engine, project, free_range(11))
    try:
        if registry is not None:
            pulled = compose("pull", "cache")
            assert "Pulling cache ... done" in pulled.stderr
            assert docker("images", "-q", cache).out
        compose("up", "-d", "--build")
        db, app = engine.inspect("stack24_db_1"), engine.inspect("stack24_app_1")
        assert _healthy_before_start(db, app)
        assert app["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
        assert db["HostConfig"]["RestartPolicy"]["Name"] == "always"
        assert app["Config"]["Labels"]["course.part"] == "app"
        env = _env_of(compose)
        assert env["FROM_ENV_FILE"] == "yes" and env["DB_NAME"] == "northwind" and env["DB_HOST"] == "database"
        # alias, service name, hostname and the app's link alias resolve to db; the build arg reached RUN
        probe = "cat greeting; for n in database db dbhost sql; do nslookup $n | grep -c '^Name:'; done"
        assert compose("exec", "-T", "app", "sh", "-c", probe).out.split() == ["bonjour", "1", "1", "1", "1"]
        assert compose("exec", "-T", "db", "nslookup", "sql", check=False).returncode != 0  # the link is the app's

        # on-failure:2 is two restarts after the first run
        worker = _wait_exited(engine, "stack24_worker_1")
        assert worker["RestartCount"] == 2 and worker["State"]["ExitCode"] == 3
        assert compose("logs", "--no-color", "worker").stdout.count("attempt") == 3

        compose("exec", "-T", "app", "sh", "-c", "echo anon > /scratch/f")
        (project / "app.env").write_text("FROM_ENV_FILE=changed\nDB_NAME=northwind\n")
        assert "Recreating stack24_app_1" in compose("up", "-d").stderr
        assert compose("exec", "-T", "app", "sh", "-c", "cat /scratch/f; echo $FROM_ENV_FILE").out == "anon\nchanged"
    finally:
        compose("down", "-v", "--rmi", "local", check=False)
        docker("rmi", "northwind-app:v2", check=False)
        if registry is not None:
            docker("rmi", cache, check=False)
    assert docker("volume", "ls", "-q", "--filter", "label=com.docker.compose.project=stack24").out == ""


def _env_of(compose: Compose) -> dict[str, str]:
    lines = compose("exec", "-T", "app", "env").out.splitlines()
    return dict(line.partition("=")[::2] for line in lines)


def _wait_exited(engine: EngineProcess, name: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = engine.inspect(name)
        if info["State"]["Status"] == "exited" and not info["State"]["Restarting"]:
            return info
        time.sleep(0.2)
    raise AssertionError(f"{name} did not settle: {json.dumps(info['State'])}")


def test_unhealthy_dependency_stops_up(engine: EngineProcess, tmp_path: Path, docker) -> None:  # type: ignore[no-untyped-def]
    project = tmp_path / "sick"
    project.mkdir()
    (project / "docker-compose.yml").write_text("""\
version: '2.4'
services:
  db:
    image: busybox
    command: [sleep, '1000']
    stop_signal: SIGKILL
    healthcheck: {test: ["CMD-SHELL", "exit 1"], interval: 1s, retries: 1}
  web:
    image: busybox
    command: [sleep, '1000']
    depends_on:
      db: {condition: service_healthy}
""")
    compose = Compose(engine, project, 0)
    try:
        up = compose("up", "-d", check=False)
        assert up.returncode == 1 and "is unhealthy" in up.stderr, up.stderr
        assert compose.running() == ["db"]
        assert docker("inspect", "-f", "{{.State.Health.Status}}", "sick_db_1").out == "unhealthy"
    finally:
        compose("down", check=False)
