"""Registry routes: pull (POST /images/create?fromImage=), push, POST /auth (login) and
GET /distribution/{name}/json (what a tag is in the registry, without pulling)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from engine.api.http import Reply, Request, Streaming
from engine.api.router import Router
from engine.api.services import Services
from engine.api.streams import error_line, json_line
from engine.errors import EngineError, InvalidArgument, NotFound
from engine.images import reference
from engine.images.registry.auth import Credentials
from engine.images.registry.client import RegistrySettings
from engine.images.registry.distribution import inspect as distribution_inspect
from engine.images.registry.pull import Puller
from engine.images.registry.push import Pusher, login


def _pull_reference(from_image: str, tag: str) -> reference.Reference:
    ref = reference.parse(from_image, default_tag=False)
    if tag.startswith("sha256:"):
        return reference.Reference(ref.domain, ref.path, None, tag)
    if tag:
        return reference.Reference(ref.domain, ref.path, tag, None)
    if ref.tag or ref.digest:
        return ref
    return reference.Reference(ref.domain, ref.path, "latest", None)


async def _run(work: Any) -> AsyncIterator[bytes]:
    """Run `work(emit)` and stream what it emits; an error becomes the last line."""
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def runner() -> None:
        try:
            await work(lambda msg: queue.put_nowait(json_line(msg)))
        except EngineError as exc:
            queue.put_nowait(error_line(exc.message))
        except Exception as exc:  # noqa: BLE001 - the stream reports it; the engine carries on
            queue.put_nowait(error_line(f"{type(exc).__name__}: {exc}"))
        finally:
            queue.put_nowait(None)

    task = asyncio.create_task(runner())
    try:
        while True:
            item = await queue.get()
            if item is None:
                return
            yield item
    finally:
        if not task.done():
            task.cancel()


def register(router: Router, s: Services, settings: RegistrySettings, puller: Puller) -> None:
    store = s.images.store
    pusher = Pusher(store, settings)

    async def pull(req: Request) -> Streaming:
        ref = _pull_reference(req.arg("fromImage") or "", req.arg("tag") or "")
        creds = Credentials.from_header(req.headers.get("x-registry-auth"))

        async def work(emit: Any) -> None:
            await puller.pull_and_tag(s.images, ref, creds, emit)

        return Streaming(_run(work))

    async def push(req: Request) -> Streaming:
        name = req.params["name"]
        tag = req.arg("tag") or ""
        ref = reference.parse(name, default_tag=False)
        if tag:
            ref = reference.Reference(ref.domain, ref.path, tag, None)
        tags = [ref] if ref.tag else [r for r in (reference.parse(k, default_tag=False) for k in store.refs)
                                     if r.name == ref.name and r.tag]
        if not tags:
            raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_name()}")
        images = []
        for t in tags:
            img = store.find(str(t))
            if img is None:
                raise NotFound(f"An image does not exist locally with the tag: {t.familiar()}")
            images.append((img, t))
        creds = Credentials.from_header(req.headers.get("x-registry-auth"))

        async def work(emit: Any) -> None:
            for img, t in images:
                result = await pusher.push(img, t, creds, emit)
                store.tag(reference.Reference(t.domain, t.path, None, result.digest), img)
                s.events.publish("image", "push", img.id, {"name": t.familiar()})

        return Streaming(_run(work))

    async def auth(req: Request) -> Reply:
        body = await req.json(default={}) or {}
        if not isinstance(body, dict):
            raise InvalidArgument("invalid auth config")
        creds = Credentials(str(body.get("username") or ""), str(body.get("password") or ""),
                            str(body.get("identitytoken") or ""))
        await login(settings, str(body.get("serveraddress") or ""), creds)
        return Reply.json({"Status": "Login Succeeded", "IdentityToken": ""})

    async def distribution(req: Request) -> Reply:
        ref = reference.parse(req.params["name"])
        creds = Credentials.from_header(req.headers.get("x-registry-auth"))
        return Reply.json(await asyncio.to_thread(distribution_inspect, ref, creds, settings))

    router.add("GET", "/distribution/{name:.+}/json", distribution)
    router.add("POST", "/images/{name:.+}/push", push)
    router.add("POST", "/auth", auth)
    s.info.pull_handler = pull
