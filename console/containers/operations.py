"""What the console does to containers on an engine: list, act (start, stop, …), create from a spec, recreate.

The pages and the REST API both call these, so the two behave alike and every
change is audited in one place (console.audit.log.record, one entry per
container). Engine refusals come back with the engine's own words
(`docker.errors.APIError.explanation`); an engine that cannot be reached raises
`EngineError` (console/endpoints/client.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors
from docker.utils import parse_repository_tag

from console.accounts.ownership import forget, record_owner
from console.accounts.policy import PolicyViolation, check_container_config
from console.audit.log import record
from console.audit.models import Activity
from console.containers import listing
from console.containers.models import ContainerSpec
from console.containers.specs import Spec, create_config
from console.endpoints.client import EngineError, endpoint_client
from console.endpoints.models import Endpoint
from console.observe.context import in_this_context

log = logging.getLogger(__name__)

ACTIONS = ("start", "stop", "kill", "restart", "pause", "unpause", "remove")
ACTION_VERBS = {"start": "Started", "stop": "Stopped", "kill": "Killed", "restart": "Restarted",
                "pause": "Paused", "unpause": "Resumed", "remove": "Removed"}
PARALLEL_ACTIONS = 8  # containers acted on at once in a bulk action


@dataclass(frozen=True)
class ActionResult:
    """How one container's action ended; `message` is the engine's when it refused."""

    id: str
    name: str
    ok: bool
    message: str = ""
    status: int | None = None  # the engine's HTTP status when it refused; None when it could not be reached


@dataclass(frozen=True)
class Created:
    id: str
    name: str
    warnings: list[str] = field(default_factory=list)


class EngineRefused(Exception):
    """The engine refused a request; `message` is its explanation, as it wrote it."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def explanation(exc: docker.errors.APIError) -> str:
    return str(exc.explanation or exc)


def list_rows(endpoint: Endpoint) -> list[listing.ContainerRow]:
    """Every container of the endpoint as table rows (raises EngineError)."""
    with endpoint_client(endpoint) as client:
        summaries = client.api.containers(all=True)
    return listing.rows(endpoint.url, summaries)


def apply_action(client: docker.DockerClient, cid: str, action: str, force: bool = False) -> None:
    """Perform `action` (one of ACTIONS) on container `cid`; raises docker.errors.APIError."""
    api = client.api
    if action == "remove":
        api.remove_container(cid, force=force)
    elif action in ("start", "stop", "kill", "restart", "pause", "unpause"):
        getattr(api, action)(cid)
    else:
        raise ValueError(f"unknown action {action!r}")


def _act_on_one(endpoint: Endpoint, cid: str, name: str, action: str, force: bool) -> ActionResult:
    try:
        with endpoint_client(endpoint, timeout=30) as client:
            try:
                apply_action(client, cid, action, force)
            except docker.errors.APIError as exc:
                return ActionResult(cid, name, False, explanation(exc), exc.status_code)
    except EngineError as exc:
        return ActionResult(cid, name, False, exc.message)
    return ActionResult(cid, name, True)


def run_actions(request: Any, endpoint: Endpoint, ids: list[str], action: str, force: bool = False,
                names: dict[str, str] | None = None,
                on_result: Callable[[ActionResult], None] | None = None) -> list[ActionResult]:
    """`action` on each container in `ids`, several at once; each outcome audited as container.<action>.

    `names` maps IDs to names for the results and the log (IDs stand in otherwise). `on_result` is
    called with each outcome as it comes (in this thread; a background job's per-item progress).
    The results keep the order of `ids`.
    """
    names = names or {}
    by_id: dict[str, ActionResult] = {}
    with ThreadPoolExecutor(max_workers=min(PARALLEL_ACTIONS, max(1, len(ids)))) as pool:
        # in_this_context: the pool's engine calls carry the request's id and join its trace (console/observe).
        act = in_this_context(lambda cid: _act_on_one(endpoint, cid, names.get(cid, cid[:12]), action, force))
        for future in as_completed([pool.submit(act, cid) for cid in ids]):
            r = future.result()
            by_id[r.id] = r
            if on_result is not None:
                on_result(r)
    results = [by_id[cid] for cid in ids if cid in by_id]
    for r in results:
        if r.ok and action == "remove":
            forget(endpoint, "container", r.id)
        record(request, f"container.{action}", r.name, Activity.SUCCESS if r.ok else Activity.FAILURE, r.message,
               endpoint, id=r.id, **({"force": True} if force and action == "remove" else {}))
    return results


def _pull(client: docker.DockerClient, image: str) -> str:
    """Pull `image`; returns "" when it worked, or the registry's error."""
    repository, tag = parse_repository_tag(image)
    try:
        for line in client.api.pull(repository, tag=tag or "latest", stream=True, decode=True):
            if isinstance(line, dict) and line.get("error"):
                return str(line["error"])
    except docker.errors.APIError as exc:
        return explanation(exc)
    return ""


def _create(client: docker.DockerClient, config: dict[str, Any], name: str | None) -> dict[str, Any]:
    try:
        return client.api.create_container_from_config(config, name=name)
    except docker.errors.ImageNotFound as exc:
        problem = _pull(client, config["Image"])
        if problem:
            raise EngineRefused(f"{explanation(exc)} (pulling it failed: {problem})", 404) from None
    return client.api.create_container_from_config(config, name=name)


def create_container(client: docker.DockerClient, spec: Spec, name: str | None = None) -> Created:
    """Create and start a container from a validated spec (pulling its image when missing).

    A container that was created but would not start is removed again, so the
    person can fix the spec and submit it once more under the same name. Raises
    EngineRefused with the engine's message.
    """
    name = name or spec.get("name") or None
    try:
        result = _create(client, create_config(spec), name)
        cid = result["Id"]
        try:
            client.api.start(cid)
        except docker.errors.APIError:
            client.api.remove_container(cid, force=True)
            raise
        actual = client.api.inspect_container(cid)["Name"].lstrip("/")
    except docker.errors.APIError as exc:
        raise EngineRefused(explanation(exc), exc.status_code) from None
    return Created(cid, actual, list(result.get("Warnings") or []))


def recreate_container(client: docker.DockerClient, old_id: str, spec: Spec) -> Created:
    """Replace container `old_id` with one made from `spec`, under the old name unless the spec names another.

    The old container is stopped and renamed aside first; if the new one cannot be
    created or started, it is put back (name, and running again if it was), so a
    failed edit leaves things as they were. Raises EngineRefused.
    """
    try:
        old = client.api.inspect_container(old_id)
        old_name, was_running = old["Name"].lstrip("/"), bool(old["State"].get("Running"))
        if was_running:
            client.api.stop(old_id)
        client.api.rename(old_id, f"{old_name}-replaced-{old_id[:8]}")
    except docker.errors.APIError as exc:
        raise EngineRefused(explanation(exc), exc.status_code) from None
    try:
        created = create_container(client, spec, spec.get("name") or old_name)
    except EngineRefused:
        try:
            client.api.rename(old_id, old_name)
            if was_running:
                client.api.start(old_id)
        except docker.errors.APIError as exc:
            log.error("could not restore container %s after a failed edit: %s", old_name, explanation(exc))
        raise
    try:
        client.api.remove_container(old_id, force=True)
    except docker.errors.APIError as exc:
        created.warnings.append(f"the old container could not be removed: {explanation(exc)}")
    return created


def audit_details(spec: Spec) -> dict[str, Any]:
    """The spec for the activity log: environment values and the pasted .env are left out (they hold secrets)."""
    details = {k: v for k, v in spec.items() if k not in ("env", "env_file")}
    details["env"] = [row.get("name", "") for row in spec.get("env") or []]
    if spec.get("env_file"):
        details["env_file"] = "(pasted .env file)"
    return details


def keep_spec(endpoint: Endpoint, created: Created, spec: Spec, user: Any, replaces: str = "") -> ContainerSpec:
    """Store the spec of a container the console made; an edit moves the old container's record to the new one."""
    user = user if getattr(user, "is_authenticated", False) else None
    ContainerSpec.objects.filter(endpoint=endpoint, container_id=created.id).delete()
    kept = ContainerSpec.objects.filter(endpoint=endpoint, container_id=replaces).first() if replaces else None
    if kept is None:
        kept = ContainerSpec(endpoint=endpoint, created_by=user)
    kept.container_id, kept.name, kept.spec = created.id, created.name, spec
    kept.save()
    return kept


def create_and_record(request: Any, endpoint: Endpoint, spec: Spec, replaces: str = "") -> Created:
    """Create (or, with `replaces`, recreate) a container from a validated spec, keep the spec, audit it.

    Raises EngineRefused (the engine said no) or EngineError (no engine); both are
    audited as failures first.
    """
    action = "container.recreate" if replaces else "container.create"
    target = spec.get("name") or spec["image"]
    user = getattr(request, "user", None)
    try:  # the endpoint's security settings (console/accounts/policy.py), before the engine sees anything
        check_container_config(user, endpoint, create_config(spec))
    except PolicyViolation as exc:
        record(request, action, target, Activity.DENIED, exc.message, endpoint, replaces=replaces, spec=audit_details(spec))
        raise EngineRefused(exc.message, 403) from None
    try:
        with endpoint_client(endpoint, timeout=60) as client:
            created = recreate_container(client, replaces, spec) if replaces else create_container(client, spec)
    except (EngineRefused, EngineError) as exc:
        record(request, action, target, Activity.FAILURE, exc.message, endpoint, replaces=replaces, spec=audit_details(spec))
        raise
    keep_spec(endpoint, created, spec, user, replaces)
    record_owner(user, endpoint, "container", created.id, created.name, replaces=replaces)
    record(request, action, created.name, Activity.SUCCESS, "; ".join(created.warnings), endpoint, id=created.id,
           replaces=replaces, spec=audit_details(spec))
    return created
