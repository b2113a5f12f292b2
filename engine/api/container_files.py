"""Routes over a container's files: archive (docker cp), export and commit."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator

from engine.api.http import Reply, Request, Streaming
from engine.api.router import Router, query_bool
from engine.api.services import Services
from engine.containers import archive
from engine.containers.commit import CommitOptions
from engine.containers.files import ContainerFiles
from engine.containers.model import Container
from engine.errors import InvalidArgument
from engine.util.threadstream import produce, spool

STAT_HEADER = "X-Docker-Container-Path-Stat"


def register(router: Router, s: Services, files: ContainerFiles) -> None:
    svc = s.containers

    def top_name(abs_path: str) -> str:
        if abs_path.endswith("/."):
            return "."
        return os.path.basename(abs_path.rstrip("/")) or "/"

    async def stat_of(c: Container, path: str, ref: str) -> tuple[str, str, dict[str, object]]:
        async with files.view(c) as view:
            resolved, abs_path = archive.resource_path(view, path, ref)
            return resolved, abs_path, archive.path_stat(view, resolved, abs_path)

    async def get_archive(req: Request) -> Reply | Streaming:
        c = svc.get(req.params["id"])
        resolved, abs_path, stat = await stat_of(c, req.arg("path") or "", req.params["id"])
        headers = {STAT_HEADER: archive.stat_header(stat)}
        if req.method == "HEAD":
            return Reply(200, b"", None, headers)

        async def body() -> AsyncIterator[bytes]:
            async with files.view(c) as view:
                async for chunk in produce(lambda out: archive.write_tar(view, resolved, top_name(abs_path), out)):
                    yield chunk

        return Streaming(body(), content_type="application/x-tar", headers=headers)

    async def put_archive(req: Request) -> Reply:
        c = svc.get(req.params["id"])
        path = req.arg("path") or ""
        archive.absolute(path)  # a missing path is a 400 before the body is read
        tmp = os.path.join(svc.images.store.layers.tmp_dir, "cp-" + secrets.token_hex(8) + ".tar")
        try:
            await spool(req.stream(), tmp)
            async with files.view(c) as view:
                target = archive.extraction_dir(view, path, req.params["id"])
                _check_writable(c, view, path)
                with open(tmp, "rb") as f:  # noqa: ASYNC230 - one open(); the extraction runs in a thread
                    await asyncio.to_thread(archive.extract, f, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        svc.lifecycle.event(c, "extract-to-dir")
        return Reply(200, b"", None)

    async def export(req: Request) -> Streaming:
        c = svc.get(req.params["id"])

        async def body() -> AsyncIterator[bytes]:
            async with files.view(c) as view:
                async for chunk in produce(lambda out: files.export(view, out)):
                    yield chunk

        svc.lifecycle.event(c, "export")
        return Streaming(body(), content_type="application/x-tar")

    async def commit(req: Request) -> Reply:
        c = svc.get(req.arg("container") or "")
        body = await req.json(default=None)
        if body is not None and not isinstance(body, dict):
            raise InvalidArgument("json: cannot unmarshal non-object into Go value of type container.Config")
        opts = CommitOptions(repo=req.arg("repo") or "", tag=req.arg("tag") or "", comment=req.arg("comment") or "",
                             author=req.arg("author") or "", pause=query_bool(req, "pause", True),
                             changes=tuple(req.args("changes")), config=body or {})
        img = await files.commit(c, opts)
        return Reply.json({"Id": img.id}, 201)

    router.add("GET", "/containers/{id}/archive", get_archive)
    router.add("HEAD", "/containers/{id}/archive", get_archive)
    router.add("PUT", "/containers/{id}/archive", put_archive)
    router.add("GET", "/containers/{id}/export", export)
    router.add("POST", "/commit", commit)


def _check_writable(c: Container, view: archive.ContainerView, path: str) -> None:
    """Docker refuses to extract onto a read-only rootfs or into a read-only volume."""
    resolved = view.resolve(archive.absolute(path))
    for m in c.mounts:
        dest = m["Destination"].rstrip("/") or "/"
        if resolved == dest or resolved.startswith(dest + "/"):
            if not m.get("RW", True):
                raise InvalidArgument("mounted volume is marked read-only")
            return
    if c.host_config.get("ReadonlyRootfs"):
        raise InvalidArgument("container rootfs is marked read-only")
