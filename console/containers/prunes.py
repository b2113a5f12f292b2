"""Prunes as background jobs: stopped containers, unused images, unused networks (volumes: console/volumes/jobs.py).

Each kind is one engine call (POST /containers/prune, /images/prune, /networks/prune), audited as
<kind>.prune with what went; each removed thing becomes an item of the job, so its page lists them.
`start_prune(kind, ...)` queues one; the lists' "Prune" buttons post to views that call it.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from console.accounts.ownership import forget
from console.audit.log import record
from console.audit.models import Activity
from console.endpoints.client import EngineError, endpoint_client
from console.endpoints.models import Endpoint
from console.jobs.framework import JobContext, JobFailed, job_task, start_job
from console.jobs.models import Job
from console.networks import service as networks


@dataclass(frozen=True)
class Pruned:
    removed: list[str]
    reclaimed: int


TITLES = {"containers": "Remove stopped containers", "images": "Prune unused images", "networks": "Prune unused networks"}
LISTS = {"containers": "containers:list", "images": "images:list", "networks": "networks:list"}


def start_prune(kind: str, request: Any, endpoint: Endpoint, all_images: bool = False) -> Job:
    """Queue the prune of `kind` ("containers", "images" — dangling only unless `all_images` —, "networks")."""
    title = TITLES[kind] + (" (tagged ones too)" if kind == "images" and all_images else "") + f" on {endpoint.name}"
    return start_job(f"prune.{kind}", request=request, endpoint=endpoint, title=title,
                     params={"all": bool(all_images)} if kind == "images" else {})


def started(request: HttpRequest, job: Job) -> HttpResponse:
    """What a prune view answers: htmx gets the job's live panel (the list reloads when it ends); a plain post, the job's page."""
    if request.headers.get("HX-Request"):
        return render(request, "components/job_panel.html", {"job": job, "job_reload": True})
    return redirect(job.get_absolute_url())


def _audited(job: JobContext, kind: str, call: Any) -> dict[str, Any]:
    """`call(api)` on the job's endpoint, audited as <kind>.prune (failure with the engine's words)."""
    actor, endpoint = SimpleNamespace(user=job.user, META={}), job.endpoint
    try:
        with endpoint_client(endpoint, timeout=300) as client:
            result = call(client.api) or {}
    except EngineError as exc:
        record(actor, f"{kind}.prune", f"{kind}s", Activity.FAILURE, exc.message, endpoint)
        raise
    return result


def prune_containers(job: JobContext) -> Pruned:
    result = _audited(job, "container", lambda api: api.prune_containers())
    removed = list(result.get("ContainersDeleted") or [])
    for cid in removed:
        forget(job.endpoint, "container", cid)
    record(SimpleNamespace(user=job.user, META={}), "container.prune", "containers", Activity.SUCCESS,
           f"removed {len(removed)}", job.endpoint, removed=removed)
    return Pruned([cid[:12] for cid in removed], int(result.get("SpaceReclaimed") or 0))


def prune_images(job: JobContext) -> Pruned:
    every = bool(job.params.get("all"))
    result = _audited(job, "image", lambda api: api.prune_images(filters={"dangling": "false" if every else "true"}))
    removed = [d.get("Untagged") or d.get("Deleted", "")[:19] for d in result.get("ImagesDeleted") or []]
    record(SimpleNamespace(user=job.user, META={}), "image.prune", "images", Activity.SUCCESS,
           f"removed {len(removed)}", job.endpoint, removed=removed, all=every)
    return Pruned(removed, int(result.get("SpaceReclaimed") or 0))


def prune_networks(job: JobContext) -> Pruned:
    return Pruned(networks.prune_networks(SimpleNamespace(user=job.user, META={}), job.endpoint), 0)


def _run(job: JobContext, kind: str, prune: Any) -> dict[str, Any]:
    if job.endpoint is None:
        raise JobFailed("the job's endpoint no longer exists")
    job.progress(None, TITLES[kind])
    done: Pruned = prune(job)
    for name in done.removed:
        job.item(name, label=name, status="Removed", fraction=1.0)
    what = kind if len(done.removed) != 1 else kind[:-1]
    text = (f"Removed {len(done.removed)} {what}" + (f", {filesizeformat(done.reclaimed)} freed." if done.reclaimed else ".")
            if done.removed else f"Nothing to remove: no unused {kind}.")
    job.status(text)
    return {"removed": done.removed, "reclaimed": done.reclaimed, "summary": text,
            "links": [{"label": kind.capitalize(), "url": reverse(LISTS[kind], kwargs={"eid": job.endpoint.pk})}]}


job_task("prune.containers")(lambda job: _run(job, "containers", prune_containers))
job_task("prune.images")(lambda job: _run(job, "images", prune_images))
job_task("prune.networks")(lambda job: _run(job, "networks", prune_networks))
