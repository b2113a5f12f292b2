"""Placement at load time: x-berth-endpoint / the berth.endpoint label resolved before any engine is asked,
problems line-numbered like the other compose problems; and each engine's share of a spread project (pure)."""

from __future__ import annotations

import pytest

from console.endpoints.models import Endpoint, Environment
from console.stacks import service
from console.stacks.compose import ComposeError, LoadOptions, load_project
from console.stacks.compose.spread import part

pytestmark = pytest.mark.django_db

TEXT = """\
services:
  web:
    image: busybox
    x-berth-endpoint: host-a
    depends_on: [db]
  db:
    image: busybox
    labels:
      berth.endpoint: prod/host-b
    volumes: [data:/data]
  cache:
    image: busybox
    networks: [back]
volumes:
  data: {}
networks:
  back: {}
"""


@pytest.fixture
def hosts() -> dict[str, Endpoint]:
    prod = Environment.objects.create(name="prod")
    return {name: Endpoint.objects.create(name=name, url=f"unix:///tmp/{name}.sock", environment=env)
            for name, env in (("home", None), ("host-a", None), ("host-b", prod), ("staging-1", None))}


def load(text: str, home: Endpoint) -> service.Loaded:
    return service.load(service.Source("st", text), home=home)


def test_it_places_each_service_on_its_endpoint(hosts) -> None:  # type: ignore[no-untyped-def]
    project = load(TEXT, hosts["home"]).project
    assert {s.name: s.placement for s in project.services} == {"web": "host-a", "db": "prod/host-b", "cache": ""}
    placed = service.placement(project, hosts["home"])
    assert {s: e.name for s, e in placed.items()} == {"web": "host-a", "db": "host-b", "cache": "home"}


def test_it_reports_unknown_endpoints_with_their_lines(hosts) -> None:  # type: ignore[no-untyped-def]
    text = TEXT.replace("x-berth-endpoint: host-a", "x-berth-endpoint: host-z").replace("prod/host-b", "dev/host-b")
    with pytest.raises(ComposeError) as caught:
        load(text, hosts["home"])
    problems = {p.path: (p.line, p.message) for p in caught.value.problems}
    assert problems["services.web.x-berth-endpoint"][0] == 4
    assert "no endpoint named 'host-z'" in problems["services.web.x-berth-endpoint"][1]
    assert problems["services.db.x-berth-endpoint"][0] == 9
    assert "not in environment dev" in problems["services.db.x-berth-endpoint"][1]


def test_a_stack_stays_in_its_home_environment(hosts) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ComposeError) as caught:
        load(TEXT, hosts["host-b"])  # home in prod: web on host-a (no environment) is refused
    (problem,) = caught.value.problems
    assert problem.path == "services.web.x-berth-endpoint" and "stays in one environment" in problem.message


def test_two_different_wishes_and_a_non_string_are_problems(hosts) -> None:  # type: ignore[no-untyped-def]
    text = TEXT.replace("    x-berth-endpoint: host-a\n", "    x-berth-endpoint: host-a\n    labels: {berth.endpoint: home}\n")
    text = text.replace("  cache:\n    image: busybox\n", "  cache:\n    image: busybox\n    x-berth-endpoint: [a]\n")
    with pytest.raises(ComposeError) as caught:
        load(text, hosts["home"])
    messages = {p.path: p.message for p in caught.value.problems}
    assert "give one" in messages["services.web.x-berth-endpoint"]
    assert "as a string" in messages["services.cache.x-berth-endpoint"]


def test_without_a_home_nothing_is_resolved(hosts) -> None:  # type: ignore[no-untyped-def]
    text = TEXT.replace("host-a", "nowhere")
    assert load_project(text, LoadOptions("st")).project.service("web").placement == "nowhere"


def test_each_engine_gets_only_its_share_and_shared_networks_become_overlay() -> None:
    text = TEXT.replace("    depends_on: [db]\n", "    depends_on: [db]\n    networks: [default, back]\n")
    project = load_project(text, LoadOptions("st")).project
    where = {"web": "a", "db": "b", "cache": "a"}
    overlays = {"default": ["a", "b"]}
    a, b = part(project, where, "a", overlays), part(project, where, "b", overlays)
    assert [s.name for s in a.services] == ["web", "cache"] and [s.name for s in b.services] == ["db"]
    assert sorted(n.key for n in a.networks) == ["back", "default"] and [n.key for n in b.networks] == ["default"]
    assert (b.network("default").driver, b.network("default").attachable) == ("overlay", True)
    assert (a.network("back").driver, a.network("back").attachable) == ("", False)
    assert [v.key for v in b.volumes] == ["data"] and not a.volumes
    assert a.network("default").name == b.network("default").name == "st_default"
