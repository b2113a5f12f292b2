"""Bulk actions on containers as a background job ("container.bulk"), one item per container.

The containers list posts the selection (console/containers/views.py `bulk_action`), which checks
each container against the person's rights, then `start_bulk` queues the allowed ones. The handler
runs console.containers.operations.run_actions — several containers at once, each outcome audited
as container.<action> — and reports each container as an item: "Waiting", then the action's verb
("Stopped") or "Failed: <the engine's words>". A job with any failure ends "failed", saying which.

Not run twice (rerun=False): a restart or kill that already happened must not happen again because
a worker died; the person sees the reason and decides.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django.urls import reverse

from console.containers.operations import ACTION_VERBS, ActionResult, run_actions
from console.endpoints.models import Endpoint
from console.jobs.framework import JobContext, JobFailed, job_task, start_job
from console.jobs.models import Job

BULK_KIND = "container.bulk"
ACTION_WORDS = {"start": "Start", "stop": "Stop", "kill": "Kill", "restart": "Restart", "pause": "Pause",
                "unpause": "Resume", "remove": "Remove"}


def start_bulk(request: Any, endpoint: Endpoint, action: str, ids: list[str], names: dict[str, str],
               force: bool = False) -> Job:
    """Queue `action` on the containers `ids` (already checked against the person's rights)."""
    count = f"{len(ids)} container{'' if len(ids) == 1 else 's'}"
    return start_job(BULK_KIND, request=request, endpoint=endpoint, title=f"{ACTION_WORDS[action]} {count}",
                     params={"action": action, "ids": ids, "force": force,
                             "names": {cid: names.get(cid, cid[:12]) for cid in ids}})


def summary(action: str, results: list[ActionResult]) -> str:
    """ "Stopped 3 containers; 1 could not be stopped." (pure)"""
    done = sum(1 for r in results if r.ok)
    failed = len(results) - done
    verb = ACTION_VERBS[action]
    text = f"{verb} {done} container{'' if done == 1 else 's'}"
    return text + (f"; {failed} could not be {verb.lower()}." if failed else ".")


@job_task(BULK_KIND, rerun=False)
def bulk_action(job: JobContext) -> dict[str, Any]:
    action, ids, force = job.params["action"], list(job.params["ids"]), bool(job.params.get("force"))
    names: dict[str, str] = job.params.get("names") or {}
    if action not in ACTION_VERBS or job.endpoint is None:
        raise JobFailed("unknown action" if job.endpoint is not None else "the job's endpoint no longer exists")
    for cid in ids:
        job.item(cid, label=names.get(cid, cid[:12]), status="Waiting", fraction=0.0)
    job.progress(0.0, f"{ACTION_WORDS[action]}: 0 of {len(ids)}")
    finished: list[ActionResult] = []

    def report(r: ActionResult) -> None:
        finished.append(r)
        job.item(r.id, status=ACTION_VERBS[action] if r.ok else f"Failed: {r.message}", fraction=1.0)
        job.progress(len(finished) / len(ids), f"{ACTION_WORDS[action]}: {len(finished)} of {len(ids)}")

    actor = SimpleNamespace(user=job.user, META={})
    results = run_actions(actor, job.endpoint, ids, action, force, names, on_result=report)
    text = summary(action, results)
    job.status(text)
    failed = [r for r in results if not r.ok]
    if failed:
        raise JobFailed(text + " " + "; ".join(f"{r.name}: {r.message}" for r in failed[:20]))
    return {"summary": text, "done": [r.name for r in results],
            "links": [{"label": "Containers", "url": reverse("containers:list", kwargs={"eid": job.endpoint.pk})}]}
