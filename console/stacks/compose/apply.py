"""Performing a project on an engine, through the Docker Engine API only: up, stop, start, down.

`up` is: networks and volumes (created when missing, labelled as docker-compose labels them), images
(present, else built from the project directory when the service has `build:` and a directory is known,
else pulled), then service by service in dependency order — each waits for its dependencies'
conditions (service_started / service_healthy / service_completed_successfully) — the plan's actions
(console/stacks/compose/plan.py), and at last orphans removed. Every container is made by
`create_container` and nothing else, so a policy can be put in that one place.

The loop itself lives in console/stacks/compose/spread.py, which runs a project over several engines
(a service per endpoint); `up`, `stop`, `start` and `down` here are its one-engine case.

Progress goes to a `Reporter` (the job adapts its JobContext). Failures raise `ApplyError` with a
message fit for a person; the engine's own words are kept (EngineError's message).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

import docker
import docker.errors

from console.accounts.policy import PolicyViolation, enforce_in_context, owner_in_context
from console.stacks.compose import plan as planning
from console.stacks.compose.model import PROJECT_LABEL, Project, Service
from console.stacks.compose.spec import container_plan

WAIT_TIMEOUT = 180.0  # seconds a dependency may take to become healthy / to complete
POLL = 0.5
STOP_TIMEOUT = 10


class ApplyError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Reporter(Protocol):
    def status(self, text: str, fraction: float | None = None) -> None: ...
    def item(self, key: str, label: str, status: str, fraction: float | None = None) -> None: ...
    def log(self, line: str) -> None: ...
    def check(self) -> None: ...  # raises when the work should stop (cancelled)


@dataclass(frozen=True)
class Hooks:
    """What the console supplies: registry auth for a pull, the directory a `build:` context is read from."""

    pull_auth: Callable[[str], dict[str, Any] | None] = lambda image: None
    build_dir: Callable[[Service], str | None] = lambda service: None
    wait_timeout: float = WAIT_TIMEOUT
    # the context creating containers on an endpoint (by name) runs in: its security settings (policy.py)
    acting_on: Callable[[str], AbstractContextManager[None]] = lambda endpoint: nullcontext()


def _api_error(exc: docker.errors.APIError) -> ApplyError:
    return ApplyError(str(exc.explanation or exc))


def project_containers(api: docker.APIClient, name: str) -> list[dict[str, Any]]:
    rows = api.containers(all=True, filters={"label": f"{PROJECT_LABEL}={name}"})
    return [r for r in rows if planning.is_service_container(r)]


# -- networks and volumes ------------------------------------------------------------------------------

def ensure_networks(api: docker.APIClient, project: Project, report: Reporter) -> None:
    present = {n["Name"] for n in api.networks()}
    for net in project.networks:
        if net.name in present:
            continue
        if net.external:
            raise ApplyError(f"network {net.name} is declared external but does not exist; create it first")
        report.log(f"Creating network {net.name}")
        made = api.create_network(net.name, driver=net.driver or None, options=dict(net.driver_opts) or None,
                                  internal=net.internal, labels=dict(net.labels), check_duplicate=True,
                                  attachable=net.attachable or None)
        owner_in_context("network", str(made.get("Id") or net.name), net.name)


def ensure_volumes(api: docker.APIClient, project: Project, report: Reporter) -> None:
    present = {v["Name"] for v in (api.volumes() or {}).get("Volumes") or []}
    for vol in project.volumes:
        if vol.name in present:
            continue
        if vol.external:
            raise ApplyError(f"volume {vol.name} is declared external but does not exist; create it first")
        try:  # a local volume with o=bind is a bind mount (console/accounts/policy.py acting_as)
            enforce_in_context({"HostConfig": {"Mounts": [{"Type": "volume", "VolumeOptions": {"DriverConfig": {
                "Name": vol.driver or "local", "Options": dict(vol.driver_opts)}}}]}}, f"{project.name}/{vol.name}")
        except PolicyViolation as exc:
            raise ApplyError(f"volume {vol.name}: {exc.message}") from None
        report.log(f"Creating volume {vol.name}")
        api.create_volume(vol.name, driver=vol.driver or None, driver_opts=dict(vol.driver_opts) or None,
                          labels=dict(vol.labels))
        owner_in_context("volume", vol.name, vol.name)


# -- containers --------------------------------------------------------------------------------------

def create_container(api: docker.APIClient, project: Project, service: Service, number: int, image_id: str) -> str:
    """THE one place a stack's container is made (and attached to its other networks); its ID.

    Every container of every stack — deploys, redeploys, scale-ups, adoptions — is created here.
    """
    made = container_plan(project, service, number, image_id)
    try:  # the endpoint's security settings for the deploying user (console/accounts/policy.py acting_as)
        enforce_in_context(made.body, f"{project.name}/{service.name}")
    except PolicyViolation as exc:
        raise ApplyError(f"{service.name}: {exc.message}") from None
    created = api.create_container_from_config(made.body, name=made.name)
    owner_in_context("container", str(created["Id"]), made.name)
    for network, endpoint_config in made.connect:
        api.connect_container_to_network(created["Id"], network, aliases=endpoint_config.get("Aliases"),
                                         ipv4_address=(endpoint_config.get("IPAMConfig") or {}).get("IPv4Address"))
    return str(created["Id"])


def remove_container(api: docker.APIClient, existing: planning.Existing, report: Reporter, why: str) -> None:
    report.log(f"{why} {existing.name}")
    if existing.state in ("running", "restarting", "paused"):
        api.stop(existing.id, timeout=STOP_TIMEOUT)
    api.remove_container(existing.id, v=False, force=True)


def _converge(api: docker.APIClient, project: Project, service: Service, actions: list[planning.Action],
              image_id: str, report: Reporter) -> None:
    for action in actions:
        report.check()
        label = f"{service.name} #{action.number}"
        if action.kind == planning.KEEP:
            report.item(service.name, service.name, "Up to date", 1.0)
            continue
        if action.kind == planning.REMOVE:
            remove_container(api, action.container, report, "Removing (scaled down)")
            continue
        if action.kind == planning.RECREATE:
            remove_container(api, action.container, report, "Recreating")
        cid = action.container.id if action.kind == planning.START else None
        if cid is None:
            report.item(service.name, service.name, f"Creating {label}", 0.5)
            cid = create_container(api, project, service, action.number, image_id)
            report.log(f"Created {label}: {cid[:12]}")
        api.start(cid)
        report.log(f"Started {label}")
        report.item(service.name, service.name, "Started", 1.0)


def _container_state(api: docker.APIClient, cid: str) -> dict[str, Any]:
    return api.inspect_container(cid).get("State") or {}


def wait_for(api_of: Callable[[str], docker.APIClient], project: Project, service: Service, report: Reporter,
             timeout: float) -> None:
    """Block until each dependency of `service` meets its condition, asked of the engine the dependency runs
    on (`api_of(its name)`); ApplyError when one cannot."""
    for dep in service.depends_on:
        if dep.condition == "service_started":
            continue
        api = api_of(dep.service)
        ids = [r["Id"] for r in project_containers(api, project.name)
               if (r.get("Labels") or {}).get("com.docker.compose.service") == dep.service]
        report.status(f"{service.name} waits for {dep.service} ({dep.condition.replace('_', ' ')})")
        deadline = time.monotonic() + timeout
        for cid in ids:
            while not _condition_met(_container_state(api, cid), dep.condition, dep.service):
                report.check()
                if time.monotonic() > deadline:
                    raise ApplyError(f"{dep.service} did not become {_words(dep.condition)} within {int(timeout)} s; "
                                     f"{service.name} was not started")
                time.sleep(POLL)
        report.log(f"{dep.service} is {_words(dep.condition)}")


def _words(condition: str) -> str:
    return {"service_healthy": "healthy", "service_completed_successfully": "completed successfully"}.get(condition,
                                                                                                       "started")


def _condition_met(state: dict[str, Any], condition: str, name: str) -> bool:
    running, health = bool(state.get("Running")), ((state.get("Health") or {}).get("Status") or "")
    if condition == "service_healthy":
        if health == "unhealthy":
            raise ApplyError(f"{name} is unhealthy (its healthcheck failed)")
        if not health:
            raise ApplyError(f"{name} has no healthcheck, so condition service_healthy can never be met")
        if not running:
            raise ApplyError(f"{name} exited (code {state.get('ExitCode')}) before it became healthy")
        return health == "healthy"
    if running or state.get("Status") in ("created", "restarting"):
        return False
    if state.get("ExitCode") != 0:
        raise ApplyError(f"{name} exited with code {state.get('ExitCode')} (service_completed_successfully needs 0)")
    return True


def up(client: docker.DockerClient, project: Project, report: Reporter, hooks: Hooks = Hooks()) -> planning.Plan:
    """Bring the project up on one engine (see the module doc); the plan that was carried out."""
    from console.stacks.compose import spread

    return spread.up(spread.Engines.single(client, project), project, report, hooks)


def stop(client: docker.DockerClient, name: str, order: list[str], report: Reporter) -> int:
    """Stop the project's running containers, dependants first (`order` is start order); how many stopped."""
    from console.stacks.compose import spread

    return spread.stop([client], name, order, report)


def start(client: docker.DockerClient, name: str, order: list[str], report: Reporter) -> int:
    """Start the project's stopped containers, dependencies first; how many started."""
    from console.stacks.compose import spread

    return spread.start([client], name, order, report)


def down(client: docker.DockerClient, name: str, report: Reporter, remove_volumes: bool = False) -> dict[str, int]:
    """Remove the project's containers and networks (by label); its volumes too only when asked."""
    from console.stacks.compose import spread

    return spread.down([client], name, report, remove_volumes)


def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except docker.errors.NotFound:
        return None  # already gone: what we wanted
    except docker.errors.APIError as exc:
        raise _api_error(exc) from None
