"""The compose loader, planner and create-body builder as pure functions (no engine, no database):
short syntaxes, interpolation, env files, profiles, each kind of error with its line, config hashes."""

from __future__ import annotations

import pytest

from console.stacks.compose import ComposeError, LoadOptions, load_project, values
from console.stacks.compose.model import Mount, Port
from console.stacks.compose.plan import Existing, plan_up
from console.stacks.compose.spec import config_hash, container_plan
from console.stacks.service import Source, load, name_problem


def problems(text: str, **variables: str) -> list[str]:
    with pytest.raises(ComposeError) as caught:
        load_project(text, LoadOptions("p", variables))
    return [str(p) for p in caught.value.problems]


def test_it_parses_short_syntaxes() -> None:
    assert values.duration("1m30s") == 90_000_000_000 and values.duration("500ms") == 500_000_000
    assert values.duration(2) == 2_000_000_000
    assert values.size("512m") == 512 * 1024 ** 2 and values.size("1g") == 1024 ** 3 and values.size(100) == 100
    assert values.ports("8080-8090:3000") == [Port(3000, "tcp", "8080-8090")]
    assert values.ports("127.0.0.1:9000-9001:80-81/udp") == [Port(80, "udp", "9000", "127.0.0.1"),
                                                            Port(81, "udp", "9001", "127.0.0.1")]
    assert values.ports(80) == [Port(80)] and values.ports("3000-3001") == [Port(3000), Port(3001)]
    assert values.ports({"target": 80, "published": 8080}) == [Port(80, "tcp", "8080")]
    assert values.volume("data:/srv:ro") == Mount("volume", "/srv", "data", True)
    assert values.volume("./site:/www") == Mount("bind", "/www", "./site")
    assert values.volume("/cache") == Mount("anonymous", "/cache")
    assert values.command("sh -c 'echo hi'") == ("sh", "-c", "echo hi")
    for bad, fn in (("1x", values.duration), ("lots", values.size), ("1-2-3:4", values.ports), ("a:b:c:d", values.volume)):
        with pytest.raises(ValueError):
            fn(bad)


def test_it_normalises_a_full_service() -> None:
    text = """
services:
  web:
    image: ${IMAGE:-busybox}:${TAG-latest}
    command: httpd -f -p ${PORT}
    entrypoint: ["/bin/sh", "-c"]
    environment: [A=1, FROM_VARS, UNSET_ONE]
    env_file: [stack.env]
    labels: {tier: front}
    ports: ["${PORT}:${PORT}"]
    volumes: [data:/data, /tmp:/host-tmp:ro, /anon]
    networks: {back: {aliases: [www]}}
    depends_on: {db: {condition: service_healthy}}
    healthcheck: {test: wget -q localhost, interval: 5s, timeout: 2s, retries: 3, start_period: 1s}
    restart: on-failure:3
    deploy: {replicas: 2, resources: {limits: {cpus: '1.5', memory: 128M}, reservations: {memory: 32M}}}
  db:
    image: busybox
  debug:
    image: busybox
    profiles: [debug]
volumes:
  data:
networks:
  back:
"""
    loaded = load(Source("shop", text, {"PORT": "8081", "FROM_VARS": "v", "SECRET": "s"}, "FILE_ONLY=f\n"))
    project = loaded.project
    assert [s.name for s in project.services] == ["web", "db"]  # debug's profile is not enabled
    assert [s.name for s in project.order()] == ["db", "web"]
    web = project.service("web")
    assert web.image == "busybox:latest" and web.command == ("httpd", "-f", "-p", "8081")
    env = dict(web.environment)
    assert env["A"] == "1" and env["FROM_VARS"] == "v" and "UNSET_ONE" not in env
    assert env["FILE_ONLY"] == "f" and env["SECRET"] == "s"  # env_file: stack.env = the env file, then the rows
    assert web.replicas == 2 and web.resources.cpus == 1.5 and web.resources.memory == 128 * 1024 ** 2
    assert web.healthcheck.test == ("CMD-SHELL", "wget -q localhost") and web.healthcheck.interval == 5_000_000_000
    assert [n.key for n in project.networks] == ["back", "default"]  # db uses the default network
    assert project.network("back").name == "shop_back" and project.volume("data").name == "shop_data"
    body = container_plan(project, web, 2, "sha256:abc").body
    assert body["Labels"]["com.docker.compose.container-number"] == "2" and body["Labels"]["tier"] == "front"
    host = body["HostConfig"]
    assert host["Binds"] == ["shop_data:/data:rw", "/tmp:/host-tmp:ro"] and body["Volumes"] == {"/anon": {}}
    assert host["PortBindings"] == {"8081/tcp": [{"HostIp": "", "HostPort": "8081"}]}
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert host["NanoCpus"] == 1_500_000_000 and host["MemoryReservation"] == 32 * 1024 ** 2
    assert host["NetworkMode"] == "shop_back"
    assert body["NetworkingConfig"]["EndpointsConfig"]["shop_back"]["Aliases"] == ["web", "www"]
    with_profile = load(Source("shop", text, {"PORT": "1", "COMPOSE_PROFILES": "debug,other"}))
    assert "debug" in [s.name for s in with_profile.project.services]


def test_unset_variables_are_warnings_and_bad_ones_errors() -> None:
    loaded = load_project("services:\n  a:\n    image: busybox\n    command: echo $NOPE\n", LoadOptions("p"))
    assert [str(w) for w in loaded.warnings] == ["line 4: services.a.command: the variable NOPE is not set; it stands "
                                                 "for an empty string"]
    assert problems("services:\n  a:\n    image: busybox\n    command: echo $\n") == [
        'line 4: services.a.command: invalid interpolation format "echo $" (write $$ for a literal $)']
    assert problems("services:\n  a:\n    image: ${IMG:?}\n") == [
        "line 3: services.a.image: required variable IMG is missing a value"]


@pytest.mark.parametrize("text, expected", [
    ("services:\n  a:\n    image: busybox\n  a:\n    image: busybox\n", "line 4: services.a: 'a' is given twice"),
    ("services: [a]\n", "line 1: services: must be a mapping"),
    ("services:\n  a:\n    image: busybox\n    volumes: [data:/x]\n", "named volume 'data' is not declared"),
    ("services:\n  a:\n    image: busybox\n    networks: [back]\n", "network 'back' is not declared"),
    ("services:\n  a:\n    image: busybox\n    volumes: ['./x:/x']\n", "this stack has no project directory"),
    ("services:\n  a:\n    image: busybox\n    env_file: other.env\n", "cannot read env_file other.env"),
    ("services:\n  a:\n    image: busybox\n    healthcheck: {test: [RUN, x]}\n", "a test list starts with CMD"),
    ("services:\n  a:\n    image: busybox\n    depends_on: {b: {condition: service_good}}\n  b:\n    image: busybox\n",
     "line 4: services.a.depends_on.b.condition: 'service_good' is not one of"),
    ("services:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    profiles: [x]\n",
     "service 'b' is in a profile that is not enabled"),
    ("services:\n  a:\n    build: .\n    image: busybox\n    stop_grace_period: soon\n", "'soon' is not a duration"),
    ("services:\n  a:\n    image: busybox\n    container_name: one\n    deploy: {replicas: 2}\n",
     "line 4: services.a.container_name: a service with a container_name cannot have more than one replica"),
    ("", "line 1: the compose file is empty"),
    ("# nothing\n", "has no content"),
])
def test_each_problem_has_its_line(text: str, expected: str) -> None:
    found = problems(text)
    assert any(expected in p for p in found), found
    assert all(p.startswith("line ") for p in found), found


def test_stack_names_are_checked() -> None:
    assert name_problem("shop-1") == "" and name_problem("Shop") and name_problem("-x") and name_problem("a.b")


def test_the_plan_recreates_only_what_changed() -> None:
    text = "services:\n  a:\n    image: busybox\n    deploy: {replicas: 2}\n  b:\n    image: busybox\n"
    project = load_project(text, LoadOptions("p")).project
    hashes = {s.name: config_hash(project, s, "sha256:1") for s in project.services}
    existing = [Existing("1", "p_a_1", "a", 1, hashes["a"], "running"), Existing("2", "p_a_2", "a", 2, "old", "running"),
                Existing("3", "p_a_3", "a", 3, hashes["a"], "running"), Existing("4", "p_b_1", "b", 1, hashes["b"], "exited"),
                Existing("5", "p_c_1", "c", 1, "x", "running")]
    plan = plan_up(project, existing, hashes)
    assert [a.kind for a in plan.services["a"]] == ["keep", "recreate", "remove"]
    assert [a.kind for a in plan.services["b"]] == ["start"] and [o.service for o in plan.orphans] == ["c"]
    assert plan.summary() == "1 to recreate, 1 to start, 1 up to date, 1 to remove, 1 orphan to remove"
    moved = load_project("\n\n" + text.replace("replicas: 2", "replicas: 5"), LoadOptions("p")).project
    assert config_hash(moved, moved.service("a"), "sha256:1") == hashes["a"]  # lines and replicas: same hash
    assert config_hash(project, project.service("a"), "sha256:2") != hashes["a"]  # a new image: recreate
