"""Stack work as background jobs (console/jobs): deploy (up, also a redeploy), stop, start, remove (down).

Kinds and params (start them with `start()` below, which the pages and the API call):
    stack.deploy  {"stack": id}                    items per service and image, log of every step
    stack.stop    {"stack": id}
    stack.start   {"stack": id}
    stack.remove  {"stack": id, "volumes": bool}    the Stack record is deleted when the engine is clean
The handler reads the stack (compose text, variables) from the database: params never hold its secrets.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import docker
from django.urls import reverse
from django.utils import timezone

from console.jobs.framework import JobContext, JobFailed, job_task, start_job
from console.jobs.models import Job
from console.accounts.policy import acting_as
from console.endpoints.client import endpoint_client
from console.endpoints.models import Endpoint
from console.endpoints.placement import spanning_networks
from console.stacks import permissions, service
from console.stacks.compose import ComposeError, spread
from console.stacks.compose import apply as compose
from console.stacks.compose.model import Project
from console.stacks.models import Stack

DEPLOY, STOP, START, REMOVE = "stack.deploy", "stack.stop", "stack.start", "stack.remove"
TITLES = {DEPLOY: "Deploy stack", STOP: "Stop stack", START: "Start stack", REMOVE: "Remove stack"}


class JobReporter:
    """compose.apply's Reporter on a job: status line and bar, items, log, cancel checks."""

    def __init__(self, job: JobContext) -> None:
        self.job = job

    def status(self, text: str, fraction: float | None = None) -> None:
        if fraction is None:
            self.job.status(text)
        else:
            self.job.progress(fraction, text)

    def item(self, key: str, label: str, status: str, fraction: float | None = None) -> None:
        self.job.item(key, label=label, status=status, fraction=fraction)

    def log(self, line: str) -> None:
        self.job.log(line)

    def check(self) -> None:
        self.job.check_cancelled()


def start(kind: str, stack: Stack, request: Any, **params: Any) -> Job:
    """Queue a job of `kind` for `stack` (the caller has authorised and audited the request)."""
    return start_job(kind, request=request, endpoint=stack.endpoint, title=f"{TITLES[kind]} {stack.name}",
                     params={"stack": stack.pk, **params})


def _stack(job: JobContext) -> Stack:
    stack = Stack.objects.select_related("endpoint").filter(pk=job.params.get("stack")).first()
    if stack is None:
        raise JobFailed("this stack no longer exists")
    return stack


def _link(stack: Stack) -> dict[str, str]:
    return {"label": "Open stack", "url": stack.get_absolute_url()}


def _order(stack: Stack) -> list[str]:
    """Service start order from the saved file; the labels' order when the file no longer loads."""
    try:
        return [s.name for s in service.load(service.source_of(stack)).project.order()]
    except ComposeError:
        return []


def _registry_auth(image: str) -> dict[str, Any] | None:
    from console.images.jobs import registry_auth

    return registry_auth(image)


@contextmanager
def _clients(job: JobContext, endpoints: list[Endpoint], timeout: float) -> Iterator[dict[str, docker.DockerClient]]:
    """endpoint name → client for each of `endpoints` (the job's own through job.engine, the others through
    endpoint_client); all closed when the block ends."""
    home = getattr(job.endpoint, "pk", None)
    with ExitStack() as stack:
        clients = {}
        for endpoint in endpoints:
            opened = job.engine(timeout=timeout) if endpoint.pk == home else endpoint_client(endpoint, timeout)
            clients[endpoint.name] = stack.enter_context(opened)
        yield clients


def _engines(project: Project, placed: dict[str, Endpoint], clients: dict[str, docker.DockerClient]) -> spread.Engines:
    service_networks = {s.name: [n.name for n in s.networks] for s in project.services}
    overlays = spanning_networks(service_networks, placed)
    return spread.Engines(clients, {name: e.name for name, e in placed.items()},
                          {key: [e.name for e in eps] for key, eps in overlays.items()})


@job_task(DEPLOY)
def deploy(job: JobContext) -> dict[str, Any]:
    """Each service on its endpoint (x-berth-endpoint); the placement is saved first, so stop/start/remove
    find every engine even when the deploy fails half-way; engines the stack was on before are visited too
    (a service that moved leaves an orphan there)."""
    stack = _stack(job)
    try:
        project = service.load(service.source_of(stack)).project
        placed = service.placement(project, stack.endpoint)
    except ComposeError as exc:
        raise JobFailed("The compose file cannot be deployed: " + "; ".join(str(p) for p in exc.problems)) from None
    involved = {e.pk: e for e in [*stack.endpoints(), *placed.values()]}
    Stack.objects.filter(pk=stack.pk).update(placement={name: e.pk for name, e in placed.items()})
    by_name = {e.name: e for e in involved.values()}
    hooks = compose.Hooks(pull_auth=_registry_auth, build_dir=lambda s: service.build_dir(stack.working_dir, s),
                          acting_on=lambda name: acting_as(job.user, by_name[name], "stack.deploy"))
    with _clients(job, list(involved.values()), timeout=300) as clients:
        try:
            with acting_as(job.user, job.endpoint, "stack.deploy"):  # security settings per container (policy.py)
                plan = spread.up(_engines(project, placed, clients), project, JobReporter(job), hooks)
        except compose.ApplyError as exc:
            raise JobFailed(exc.message) from None
    Stack.objects.filter(pk=stack.pk).update(deployed_at=timezone.now())
    return {"plan": plan.summary(), "links": [_link(stack)]}


@job_task(STOP)
def stop(job: JobContext) -> dict[str, Any]:
    return _stop_or_start(job, spread.stop, "Stopping", "Stopped")


@job_task(START)
def start_stack(job: JobContext) -> dict[str, Any]:
    return _stop_or_start(job, spread.start, "Starting", "Started")


def _stop_or_start(job: JobContext, act: Any, doing: str, done: str) -> dict[str, Any]:
    """Stop or start every container of the stack, on each of its endpoints; the result counts them."""
    stack = _stack(job)
    job.progress(None, f"{doing} {stack.name}")
    with _clients(job, stack.endpoints(), timeout=120) as clients:
        try:
            count = act(list(clients.values()), stack.name, _order(stack), JobReporter(job))
        except compose.ApplyError as exc:
            raise JobFailed(exc.message) from None
    job.progress(1.0, f"{done} {count} container{'s' if count != 1 else ''}")
    return {done.lower(): count, "links": [_link(stack)]}


@job_task(REMOVE)
def remove(job: JobContext) -> dict[str, Any]:
    stack = _stack(job)
    volumes = bool(job.params.get("volumes"))
    job.progress(None, f"Removing {stack.name}" + (" and its volumes" if volumes else ""))
    with _clients(job, stack.endpoints(), timeout=180) as clients:
        try:
            removed = spread.down(list(clients.values()), stack.name, JobReporter(job), remove_volumes=volumes)
        except compose.ApplyError as exc:
            raise JobFailed(exc.message) from None
    stack.delete()
    permissions.forget(stack)  # its ownership row: a later project of the same name starts afresh
    job.progress(1.0, "Removed {containers} containers, {networks} networks, {volumes} volumes".format(**removed))
    return {**removed, "links": [{"label": "Stacks", "url": reverse("stacks:list", kwargs={"eid": stack.endpoint_id})}]}
