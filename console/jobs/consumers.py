"""Job websockets: /ws/jobs/ (the lists and the sidebar) and /ws/jobs/<id>/ (one job's page).

Protocol (server → browser only):

/ws/jobs/[?all=1]
    {"active": [<summary>, ...]}   first: the caller's queued and running jobs (events.summary)
    {"job": <summary>}             whenever one of the caller's jobs changes (all jobs with ?all=1)
/ws/jobs/<id>/
    {"job": <summary>, "detail": {...}, "log": {"offset": 0, "text": <the kept log>}, "snapshot": true}
    {"job": <summary>, "detail": {...}, "log": {"offset": n, "text": "..."}?}   as it changes

Log offsets count from the job's first character: a browser appends only the part of a text beyond
what it already shows (the snapshot is read after joining the group, and workers write before they
publish, so nothing falls between). Refusals: accept, then close 4403 (not allowed), 4404 (no such
job). Groups are joined in connect() and left in disconnect().
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from console.accounts.access import websocket_allowed
from console.jobs import events
from console.jobs.models import Job

REFUSED, NOT_FOUND = 4403, 4404
ACTIVE_LIMIT = 100


class JobsConsumer(AsyncJsonWebsocketConsumer):
    """Summaries of the caller's jobs (all jobs with ?all=1, administrators only), live."""

    access_action = "signed_in"  # any signed-in user, for their own jobs (console/accounts/access.py)

    groups_joined: list[str]

    async def connect(self) -> None:
        self.groups_joined = []
        await self.accept()
        user = self.scope.get("user")
        if not getattr(user, "is_authenticated", False):
            await self.close(code=REFUSED)
            return
        self.everyone = b"all=1" in self.scope.get("query_string", b"").split(b"&") and websocket_allowed(self.scope)
        names = [events.ALL_GROUP] if self.everyone else [events.USER_GROUP.format(user.pk)]
        for name in names:
            await self.channel_layer.group_add(name, self.channel_name)
            self.groups_joined.append(name)
        await self.send_json({"active": await self.active_jobs(user.pk)})

    @database_sync_to_async
    def active_jobs(self, user_id: int) -> list[dict[str, Any]]:
        found = Job.objects.filter(state__in=Job.ACTIVE)
        if not self.everyone:
            found = found.filter(user_id=user_id)
        return [events.summary(j) for j in found.order_by("-created_at")[:ACTIVE_LIMIT]]

    async def disconnect(self, code: int) -> None:
        for name in self.groups_joined:
            await self.channel_layer.group_discard(name, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Nothing to say on this socket; ignored."""

    async def job_changed(self, message: dict[str, Any]) -> None:
        await self.send_json({"job": message["job"]})


class JobConsumer(AsyncJsonWebsocketConsumer):
    """One job: a snapshot, then its changes and log text as they come."""

    group = ""
    access_action = "signed_in"  # the job's owner, or an administrator

    async def connect(self) -> None:
        await self.accept()
        user = self.scope.get("user")
        if not getattr(user, "is_authenticated", False):
            await self.close(code=REFUSED)
            return
        job_id = self.scope["url_route"]["kwargs"]["job_id"]
        jobs = Job.objects.filter(pk=job_id)
        if not websocket_allowed(self.scope):
            jobs = jobs.filter(user_id=user.pk)  # others' jobs are not shown: "not found"
        if not await database_sync_to_async(jobs.exists)():
            await self.close(code=NOT_FOUND)
            return
        self.group = events.JOB_GROUP.format(job_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_json(await self.snapshot(job_id))

    @database_sync_to_async
    def snapshot(self, job_id: int) -> dict[str, Any]:
        job = Job.objects.get(pk=job_id)
        return {"job": events.summary(job), "detail": events.detail(job), "snapshot": True,
                "log": {"offset": job.log_length - len(job.log), "text": job.log}}

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Nothing to say on this socket; ignored."""

    async def job_changed(self, message: dict[str, Any]) -> None:
        out = {"job": message["job"], "detail": message.get("detail", {})}
        if message.get("log"):
            out["log"] = message["log"]
        await self.send_json(out)
