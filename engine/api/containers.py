"""Container and exec routes."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

from engine.api import schema
from engine.api.http import Hijack, RawStream, Reply, Request, Streaming
from engine.api.router import Router, query_bool, query_int
from engine.api.services import Services
from engine.api.shapes import container_inspect, container_summary
from engine.containers import links
from engine.containers.attach import (
    AttachOptions,
    PendingAttach,
    parse_detach_keys,
    pipe,
)
from engine.containers.conmon import connect_attach, resize
from engine.containers.logs import LogOptions, read_logs
from engine.containers.model import PAUSED, RESTARTING, RUNNING, Container
from engine.containers.service import ListOptions
from engine.containers.update import update_container
from engine.errors import Conflict, InvalidArgument, NotFound, NotImplementedYet
from engine.util.filters import Filters
from engine.util.timefmt import parse_time_arg

HIJACK_SETTLE = 0.05  # seconds between an attach's 101 headers and the logs it replays


def register(router: Router, s: Services) -> None:
    svc = s.containers
    life = svc.lifecycle

    def image_name(c: Container) -> str:
        name: str = c.config.get("Image") or c.image_id
        if name.startswith("sha256:"):
            return c.image_id
        found = svc.images.store.find(name)
        return name if found is not None and found.id == c.image_id else c.image_id

    async def list_containers(req: Request) -> Reply:
        opts = ListOptions(
            all=query_bool(req, "all"), limit=query_int(req, "limit", -1) or -1, size=query_bool(req, "size"),
            filters=Filters.parse(req.arg("filters")),
        )
        found = svc.list(opts)
        return Reply.json([container_summary(c, image_name(c), svc.size(c) if opts.size else None) for c in found])

    async def create(req: Request) -> Reply:
        body = await req.json(default=None)
        if body is None:
            raise InvalidArgument("Config cannot be empty in order to create a container")
        c = await svc.create(body, req.arg("name") or None)
        return Reply.json({"Id": c.id, "Warnings": c.warnings}, 201)

    async def inspect(req: Request) -> Reply:
        c = svc.get(req.params["id"])
        paths = svc.registry.store.paths(c.id)
        rootfs = life.rootfs(c)
        graph = {"LowerDir": ":".join(rootfs.lowers(c.layer_chain)) if c.layer_chain else "",
                 "MergedDir": rootfs.merged, "UpperDir": rootfs.upper, "WorkDir": rootfs.work}
        size = svc.size(c) if query_bool(req, "size") else None
        return Reply.json(container_inspect(c, paths, graph, size))

    async def start(req: Request) -> Reply:
        c = svc.get(req.params["id"])
        await svc.start(c)
        return Reply.empty()

    async def stop(req: Request) -> Reply:
        c = svc.get(req.params["id"])
        await life.stop(c, query_int(req, "t"))
        return Reply.empty()

    async def restart(req: Request) -> Reply:
        c = svc.get(req.params["id"])
        await svc.restart(c, query_int(req, "t"))
        return Reply.empty()

    async def kill(req: Request) -> Reply:
        c = svc.get(req.params["id"])
        await life.kill(c, req.arg("signal") or None)
        return Reply.empty()

    async def pause(req: Request) -> Reply:
        await life.pause(svc.get(req.params["id"]))
        return Reply.empty()

    async def unpause(req: Request) -> Reply:
        await life.unpause(svc.get(req.params["id"]))
        return Reply.empty()

    async def update(req: Request) -> Reply:
        c = svc.get(req.params["id"])
        warnings = await update_container(life, c, await req.json(default={}))
        return Reply.json({"Warnings": warnings or None})

    async def rename(req: Request) -> Reply:
        await svc.rename(svc.get(req.params["id"]), req.arg("name") or "")
        return Reply.empty()

    async def remove(req: Request) -> Reply:
        c = svc.get(req.params["id"])
        if query_bool(req, "link"):
            raise InvalidArgument("legacy links are not supported")
        await svc.remove(c, force=query_bool(req, "force"), volumes=query_bool(req, "v"))
        return Reply.empty()

    async def remove_link(req: Request) -> Reply:
        """DELETE /containers/PARENT/ALIAS?link=1: forget the parent's legacy link named ALIAS."""
        ref = f"{req.params['id']}/{req.params['alias']}"
        parent = svc.registry.find(req.params["id"])
        records = (parent.host_config.get("Links") or []) if parent is not None else []
        kept = [r for r in records if links.parse(r).alias != req.params["alias"]]
        if parent is None or not query_bool(req, "link") or len(kept) == len(records):
            raise NotFound(f"No such container: {ref}")
        async with svc.registry.lock(parent):
            parent.host_config["Links"] = kept or None
            svc.registry.save(parent)
        return Reply.empty()

    async def prune(req: Request) -> Reply:
        f = Filters.parse(req.arg("filters"))
        f.validate({"until", "label", "label!"})
        until = f.time_value("until")
        deleted, reclaimed = [], 0
        for c in list(svc.registry.all()):
            if c.state.status in (RUNNING, PAUSED, RESTARTING):
                continue
            if until is not None and c.created_ns >= until:
                continue
            if not f.match_labels(c.config.get("Labels")):
                continue
            rw, _ = svc.size(c)
            try:
                await svc.remove(c)
            except Conflict:
                continue
            deleted.append(c.id)
            reclaimed += rw
        s.events.publish("container", "prune", "", {"reclaimed": str(reclaimed)})
        return Reply.json({"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed})

    async def wait(req: Request) -> Streaming:
        c = svc.get(req.params["id"])
        condition = req.arg("condition") or ""
        if condition not in ("", "not-running", "next-exit", "removed"):
            raise InvalidArgument(f"invalid condition: {condition!r}")
        waiting = asyncio.ensure_future(svc.wait(c, condition))

        async def body() -> AsyncIterator[bytes]:
            try:
                code = await waiting
            finally:
                waiting.cancel()
            yield json.dumps({"Error": None, "StatusCode": code}).encode() + b"\n"

        return Streaming(body())

    async def logs(req: Request) -> Streaming:
        c = svc.get(req.params["id"])
        opts = LogOptions(
            stdout=query_bool(req, "stdout"), stderr=query_bool(req, "stderr"), follow=query_bool(req, "follow"),
            timestamps=query_bool(req, "timestamps"),
            since_ns=parse_time_arg(req.arg("since") or "0") if req.arg("since") not in (None, "", "0") else 0,
            until_ns=parse_time_arg(req.arg("until") or "0") if req.arg("until") not in (None, "", "0") else 0,
            tail=_tail(req.arg("tail")),
        )
        if not opts.stdout and not opts.stderr:
            raise InvalidArgument("Bad parameters: you must choose at least one stream")
        if c.host_config.get("LogConfig", {}).get("Type") == "none":
            raise NotImplementedYet("configured logging driver does not support reading")
        path = svc.registry.store.paths(c.id).log

        def running() -> bool:
            current = svc.registry.by_id.get(c.id)
            return current is not None and current.state.status in (RUNNING, PAUSED, RESTARTING)

        def exited() -> asyncio.Future[int]:
            return svc.lifecycle.exit_future(c)

        return Streaming(read_logs(path, opts, bool(c.config.get("Tty")), running, exited), content_type=None)

    async def top(req: Request) -> Reply:
        c = svc.get(req.params["id"])
        return Reply.json(await svc.top(c, req.arg("ps_args") or ""))

    async def stats(req: Request) -> Reply | Streaming:
        c = svc.get(req.params["id"])
        stream = query_bool(req, "stream", True)
        one_shot = query_bool(req, "one-shot", False)
        if not stream:
            async for sample in svc.stats(c, False, one_shot):
                return Reply.json(sample)
        async def body() -> AsyncIterator[bytes]:
            async for sample in svc.stats(c, True, False):
                yield json.dumps(sample, separators=(",", ":")).encode() + b"\n"
        return Streaming(body())

    async def resize_container(req: Request) -> Reply:
        c = svc.get(req.params["id"])
        h, w = query_int(req, "h", 0) or 0, query_int(req, "w", 0) or 0
        if c.state.status not in (RUNNING, PAUSED):
            raise Conflict(f"Container {c.id} is not running")
        resize(svc.registry.store.paths(c.id).bundle, h, w)
        life.event(c, "resize", {"height": str(h), "width": str(w)})
        return Reply(200, b"", "text/plain; charset=utf-8")

    async def attach(req: Request) -> Hijack:
        c = svc.get(req.params["id"])
        opts = AttachOptions(
            stdin=query_bool(req, "stdin"), stdout=query_bool(req, "stdout"), stderr=query_bool(req, "stderr"),
            tty=bool(c.config.get("Tty")), detach_keys=parse_detach_keys(req.arg("detachKeys") or None),
        )
        with_logs, with_stream = query_bool(req, "logs"), query_bool(req, "stream")
        bundle = svc.registry.store.paths(c.id).bundle
        log_path = svc.registry.store.paths(c.id).log

        async def run(raw: RawStream) -> None:
            life.event(c, "attach")
            if with_logs:
                # docker-py reads a hijacked stream from the raw socket: bytes that reach it together with
                # the 101 headers stay in its buffered reader and are lost. Docker's own log read gives
                # the client that moment; so do we.
                await asyncio.sleep(HIJACK_SETTLE)
                async for chunk in read_logs(log_path, LogOptions(stdout=opts.stdout, stderr=opts.stderr), opts.tty, lambda: False):
                    await raw.write(chunk)
            if not with_stream:
                raw.close_write()
                return
            sock: socket.socket | None
            if c.state.status in (RUNNING, PAUSED):
                sock = connect_attach(bundle)
            else:
                pending = PendingAttach(raw, opts)
                life.attach.add(c.id, pending)
                try:
                    sock = await pending.connected
                finally:
                    life.attach.remove(c.id, pending)
                if sock is None:
                    raw.close_write()
                    return

            async def detached() -> None:
                life.event(c, "detach")

            await pipe(sock, raw, opts, on_detach=detached)

        return Hijack(run)

    # -- exec ---------------------------------------------------------------------------
    async def exec_create(req: Request) -> Reply:
        c = svc.get(req.params["id"])
        body = schema.go_field_names(await req.json(default={}), schema.EXEC_CONFIG_FIELDS)
        session = s.execs.create(c, body)
        return Reply.json({"Id": session.id}, 201)

    async def exec_start(req: Request) -> Reply | Hijack:
        session = s.execs.get(req.params["id"])
        body = schema.go_field_names(await req.json(default={}) or {}, schema.EXEC_START_FIELDS)
        if not isinstance(body, dict):
            raise InvalidArgument("invalid exec start config")
        detach = bool(body.get("Detach"))
        raw = bool(body.get("Tty"))  # Docker frames the output unless the start request asks for a TTY
        if session.started:
            raise Conflict(f"Error: Exec command {session.id} has already run")
        if detach:
            await s.execs.start(session, True, None)
            return Reply(200, b"", None)

        async def run(stream: RawStream) -> None:
            await s.execs.start(session, False, stream, raw)

        return Hijack(run)

    async def exec_inspect(req: Request) -> Reply:
        return Reply.json(s.execs.get(req.params["id"]).to_json())

    async def exec_resize(req: Request) -> Reply:
        session = s.execs.get(req.params["id"])
        s.execs.resize(session, query_int(req, "h", 0) or 0, query_int(req, "w", 0) or 0)
        return Reply(200, b"", "text/plain; charset=utf-8")

    router.add("GET", "/containers/json", list_containers)
    router.add("POST", "/containers/create", create)
    router.add("POST", "/containers/prune", prune)
    router.add("GET", "/containers/{id}/json", inspect)
    router.add("GET", "/containers/{id}/top", top)
    router.add("GET", "/containers/{id}/logs", logs)
    router.add("GET", "/containers/{id}/stats", stats)
    router.add("POST", "/containers/{id}/resize", resize_container)
    router.add("POST", "/containers/{id}/start", start)
    router.add("POST", "/containers/{id}/stop", stop)
    router.add("POST", "/containers/{id}/restart", restart)
    router.add("POST", "/containers/{id}/kill", kill)
    router.add("POST", "/containers/{id}/pause", pause)
    router.add("POST", "/containers/{id}/unpause", unpause)
    router.add("POST", "/containers/{id}/rename", rename)
    router.add("POST", "/containers/{id}/update", update)
    router.add("POST", "/containers/{id}/attach", attach)
    router.add("POST", "/containers/{id}/wait", wait)
    router.add("DELETE", "/containers/{id}", remove)
    router.add("DELETE", "/containers/{id}/{alias}", remove_link)
    router.add("POST", "/containers/{id}/exec", exec_create)
    router.add("POST", "/exec/{id}/start", exec_start)
    router.add("POST", "/exec/{id}/resize", exec_resize)
    router.add("GET", "/exec/{id}/json", exec_inspect)



def _tail(value: str | None) -> int | None:
    if value is None or value in ("", "all"):
        return None
    try:
        n = int(value)
    except ValueError:
        raise InvalidArgument(f"invalid value for tail: {value!r}") from None
    return None if n < 0 else n
