"""Where each service of a stack runs: `x-berth-endpoint` (or the label `berth.endpoint`) resolved to endpoints.

A stack belongs to one endpoint, its *home* (Stack.endpoint). A service may ask to run
elsewhere by naming an endpoint:

    services:
      web: {image: nginx, x-berth-endpoint: edge-a}            # the endpoint named edge-a
      db:  {image: postgres, labels: {berth.endpoint: production/edge-b}}   # edge-b, checked to be in production
      cache: {image: redis}                                     # no wish: the stack's home endpoint

`resolve_placement()` turns the wishes into endpoints, or raises PlacementError listing
every service it could not place (unknown name, wrong environment, two different wishes).
A stack stays inside its home's environment: when the home endpoint is in an environment,
every service must be placed on an endpoint of that same environment. `spanning_networks()`
says which of the stack's networks join services on different endpoints — those must be
overlay networks (engines with a cluster store), created on each endpoint involved.
Pure apart from reading Endpoint rows; no engine is asked anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from console.endpoints.models import Endpoint

EXTENSION = "x-berth-endpoint"
LABEL = "berth.endpoint"


@dataclass(frozen=True)
class PlacementProblem:
    service: str
    message: str


class PlacementError(ValueError):
    """Services that cannot be placed; `problems` has one message per service, fit for a user."""

    def __init__(self, problems: list[PlacementProblem]) -> None:
        super().__init__("; ".join(f"{p.service}: {p.message}" for p in problems))
        self.problems = problems


def wish_of(extension: str | None, labels: Mapping[str, str]) -> str:
    """A service's placement wish from its `x-berth-endpoint` and its labels ("" for none).
    ValueError if both are given and differ."""
    ext, label = (extension or "").strip(), (labels.get(LABEL) or "").strip()
    if ext and label and ext != label:
        raise ValueError(f"{EXTENSION} says {ext!r} but the label {LABEL} says {label!r}; give one")
    return ext or label


def resolve_placement(wishes: Mapping[str, str], home: Endpoint,
                      endpoints: Iterable[Endpoint] | None = None) -> dict[str, Endpoint]:
    """service name → the Endpoint it runs on. A wish is "" (home), "NAME" or "ENVIRONMENT/NAME".

    `endpoints` defaults to every endpoint (with environments loaded); PlacementError
    lists every service that could not be placed.
    """
    known = {e.name: e for e in (endpoints if endpoints is not None else Endpoint.objects.select_related("environment"))}
    placed: dict[str, Endpoint] = {}
    problems: list[PlacementProblem] = []
    for service, wish in wishes.items():
        try:
            placed[service] = _resolve_one(wish.strip(), home, known)
        except ValueError as exc:
            problems.append(PlacementProblem(service, str(exc)))
    if problems:
        raise PlacementError(problems)
    return placed


def _resolve_one(wish: str, home: Endpoint, known: Mapping[str, Endpoint]) -> Endpoint:
    if not wish:
        return home
    env_name, _, name = wish.rpartition("/")
    endpoint = known.get(name)
    if endpoint is None:
        names = ", ".join(sorted(known)[:12]) or "none"
        raise ValueError(f"there is no endpoint named {name!r} (endpoints: {names})")
    here = endpoint.environment.name if endpoint.environment else ""
    if env_name and env_name.lower() != here.lower():
        raise ValueError(f"endpoint {name} is in {_env_words(here)}, not in environment {env_name}")
    home_env = home.environment.name if home.environment else ""
    if home_env and endpoint.pk != home.pk and here.lower() != home_env.lower():
        raise ValueError(f"endpoint {name} is in {_env_words(here)}; this stack's endpoint {home.name} is in "
                         f"environment {home_env}, and a stack stays in one environment")
    return endpoint


def _env_words(name: str) -> str:
    return f"environment {name}" if name else "no environment"


def spanning_networks(service_networks: Mapping[str, Iterable[str]], placement: Mapping[str, Endpoint]) -> dict[str, list[Endpoint]]:
    """network key → the endpoints (by name) whose services share it, for networks used on more than one
    endpoint: these must be overlay networks, created (or found) on each of those endpoints."""
    users: dict[str, dict[int, Endpoint]] = {}
    for service, networks in service_networks.items():
        endpoint = placement[service]
        for key in networks:
            users.setdefault(key, {})[endpoint.pk] = endpoint
    return {key: sorted(eps.values(), key=lambda e: e.name) for key, eps in users.items() if len(eps) > 1}
