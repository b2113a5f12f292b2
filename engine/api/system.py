"""/_ping, /version, /info, /events, /system/df."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from engine.api.http import Reply, Request, Streaming
from engine.api.router import Router
from engine.api.services import Services
from engine.events import Event
from engine.util.filters import Filters
from engine.util.timefmt import now_ns, parse_time_arg

EVENT_FILTERS = {"container", "event", "image", "label", "type", "network", "volume", "daemon", "plugin", "node", "service", "secret", "config", "scope"}


def register(router: Router, s: Services) -> None:
    async def ping(req: Request) -> Reply:
        reply = Reply(200, b"OK", "text/plain; charset=utf-8",
                      {"Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache"})
        return reply

    async def version(req: Request) -> Reply:
        return Reply.json(s.info.version())

    async def info(req: Request) -> Reply:
        return Reply.json(await s.info.info())

    async def events(req: Request) -> Streaming:
        filters = Filters.parse(req.arg("filters"))
        filters.validate(EVENT_FILTERS)
        now = now_ns()
        since = parse_time_arg(req.arg("since") or "", now) if req.arg("since") else None
        until = parse_time_arg(req.arg("until") or "", now) if req.arg("until") else None

        def accepts(e: Event) -> bool:
            return event_matches(e, filters)

        return Streaming(_event_stream(s, accepts, since, until, now))

    async def df(req: Request) -> Reply:
        return Reply.json(await s.info.disk_usage())

    router.add("GET", "/_ping", ping)
    router.add("HEAD", "/_ping", ping)
    router.add("GET", "/version", version)
    router.add("GET", "/info", info)
    router.add("GET", "/events", events)
    router.add("GET", "/system/df", df)


async def _event_stream(s: Services, accepts, since: int | None, until: int | None, now: int) -> AsyncIterator[bytes]:
    sub = s.events.subscribe(accepts)
    try:
        if since is not None:
            for past in s.events.since(since, accepts):
                if until is not None and past.time_ns > until:
                    return
                yield json.dumps(past.to_json(), separators=(",", ":")).encode() + b"\n"
        if until is not None and until <= now:
            return
        while True:
            timeout = None if until is None else max(0.0, (until - now_ns()) / 1e9)
            try:
                e = await asyncio.wait_for(sub.queue.get(), timeout)
            except TimeoutError:
                return
            if e is None:
                return
            if since is not None and e.time_ns < since:
                continue
            if until is not None and e.time_ns > until:
                return
            yield json.dumps(e.to_json(), separators=(",", ":")).encode() + b"\n"
    finally:
        s.events.unsubscribe(sub)


def event_matches(e: Event, f: Filters) -> bool:
    attrs = e.attributes
    if f.has("type") and e.type not in f.values("type"):
        return False
    if f.has("event"):
        action = e.action.split(":", 1)[0]
        if e.action not in f.values("event") and action not in f.values("event"):
            return False
    if f.has("container") and (
        e.type != "container"
        or not any(v in (e.actor_id, attrs.get("name")) or e.actor_id.startswith(v) for v in f.values("container"))
    ):
        return False
    if f.has("image"):
        if e.type == "image":
            if not any(v in (e.actor_id, attrs.get("name")) or e.actor_id.startswith("sha256:" + v) for v in f.values("image")):
                return False
        elif e.type == "container":
            image = attrs.get("image", "")
            if not any(v == image or image.startswith(v + ":") for v in f.values("image")):
                return False
        else:
            return False
    if f.has("network") and (
        e.type != "network" or not any(v in (e.actor_id, attrs.get("name")) for v in f.values("network"))
    ):
        return False
    if f.has("volume") and (e.type != "volume" or e.actor_id not in f.values("volume")):
        return False
    return f.match_labels(attrs)
