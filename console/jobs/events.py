"""Channel-layer groups and message shapes for live job progress.

Groups (module constants, formatted with an ID):
    JOB_GROUP   "jobs.job.<job id>"   everything about one job: summary, items, log text as it grows
    USER_GROUP  "jobs.user.<user id>" summaries of the jobs a user started (sidebar count, toasts)
    ALL_GROUP   "jobs.all"            summaries of every job (the jobs page for administrators)

Every message has type "job.changed" (consumers handle it in `job_changed`) and a "job" summary;
messages to JOB_GROUP also carry "detail" (items, error, result) and, when the log grew, "log":
{"offset": <where the text starts, counted from the job's first character>, "text": "..."}.
Pure functions here; console/jobs/reporting.py and framework.py send them.
"""

from __future__ import annotations

from typing import Any

from console.jobs.models import Job

JOB_GROUP = "jobs.job.{}"
USER_GROUP = "jobs.user.{}"
ALL_GROUP = "jobs.all"
MESSAGE_TYPE = "job.changed"


def summary(job: Job) -> dict[str, Any]:
    """What a list row and the sidebar need; JSON-ready."""
    return {
        "id": job.pk, "kind": job.kind, "title": job.title, "state": job.state,
        "state_label": job.get_state_display(), "progress": job.progress, "status": job.status_text,
        "endpoint": job.endpoint_name, "user": job.username, "user_id": job.user_id,
        "created_at": _iso(job.created_at), "started_at": _iso(job.started_at), "finished_at": _iso(job.finished_at),
        "error": job.error[:500], "url": job.get_absolute_url(), "runs": job.runs,
    }


def detail(job: Job) -> dict[str, Any]:
    """The rest of a job for its own page (not the log)."""
    return {"items": job.items or [], "error": job.error, "result": job.result, "links": job.links,
            "log_length": job.log_length, "cancel_requested": job.cancel_requested}


def messages_for(job: Job, log_text: str = "", log_offset: int = 0,
                 to_lists: bool = True) -> list[tuple[str, dict[str, Any]]]:
    """(group, message) pairs announcing the job's current state; lists only when `to_lists`."""
    head = summary(job)
    own: dict[str, Any] = {"type": MESSAGE_TYPE, "job": head, "detail": detail(job)}
    if log_text:
        own["log"] = {"offset": log_offset, "text": log_text}
    out = [(JOB_GROUP.format(job.pk), own)]
    if to_lists:
        brief = {"type": MESSAGE_TYPE, "job": head}
        out.append((ALL_GROUP, brief))
        if job.user_id is not None:
            out.append((USER_GROUP.format(job.user_id), brief))
    return out


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
