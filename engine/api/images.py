"""Image routes: list, inspect, history, import, tag, remove, prune, save, load."""

from __future__ import annotations

import asyncio
import os
import secrets

from engine.api.http import Reply, Request, Streaming
from engine.api.router import Router, query_bool
from engine.api.services import Services
from engine.api.shapes import image_inspect, image_summary
from engine.api.streams import json_line
from engine.errors import InvalidArgument
from engine.images import archive, reference
from engine.images.service import ImportOptions, matches_reference
from engine.util.filters import Filters
from engine.util.threadstream import produce, spool


def register(router: Router, s: Services) -> None:
    images = s.images

    async def list_images(req: Request) -> Reply:
        filters = Filters.parse(req.arg("filters"))
        if req.arg("filter"):
            filters = Filters({**{k: filters.values(k) for k in ("dangling", "label", "before", "since") if filters.has(k)},
                               "reference": [req.arg("filter") or ""]})
        found = images.list(filters, all_images=query_bool(req, "all"))
        out = [image_summary(img, images.store) for img in found]
        patterns = filters.values("reference")
        if patterns:  # Docker shows only the tags that matched
            for item in out:
                item["RepoTags"] = [t for t in item["RepoTags"] if any(matches_reference(p, [t]) for p in patterns)]
        return Reply.json(out)

    async def inspect(req: Request) -> Reply:
        return Reply.json(image_inspect(images.get(req.params["name"]), images.store))

    async def history(req: Request) -> Reply:
        return Reply.json(images.history(req.params["name"]))

    async def tag(req: Request) -> Reply:
        repo = req.arg("repo") or ""
        if not repo:
            raise InvalidArgument("repository name must have at least one component")
        images.tag_by_name(req.params["name"], repo, req.arg("tag") or None)
        return Reply(201, b"", None)

    async def remove(req: Request) -> Reply:
        items = images.delete(req.params["name"], force=query_bool(req, "force"), prune=not query_bool(req, "noprune"))
        return Reply.json(items)

    async def prune(req: Request) -> Reply:
        items, reclaimed = images.prune(Filters.parse(req.arg("filters")))
        return Reply.json({"ImagesDeleted": items or None, "SpaceReclaimed": reclaimed})

    async def create(req: Request) -> Reply | Streaming:
        if req.arg("fromSrc") is not None:
            if req.arg("fromSrc") != "-":
                raise InvalidArgument("importing from a URL is not supported; send the archive in the request body (fromSrc=-)")
            opts = ImportOptions(
                repo=req.arg("repo") or "", tag=req.arg("tag") or "", message=req.arg("message") or "",
                changes=tuple(req.args("changes")),
            )
            if opts.repo:
                reference.parse_repo_tag(opts.repo, opts.tag or None)  # 400 before reading the body

            img = await images.import_layer(req.stream(), opts)  # errors are 4xx before any output
            return Reply(200, json_line({"status": img.id}))
        if req.arg("fromImage"):
            return await s.info.pull(req)
        raise InvalidArgument("either fromSrc or fromImage is required")

    async def save(req: Request) -> Streaming:
        names = req.args("names") if "name" not in req.params else [req.params["name"]]
        if not names:
            raise InvalidArgument("no image names given")
        items = archive.plan_save(images.store, names)

        def write(out: object) -> None:
            archive.write_save_archive(images.store, items, out)

        for item in items:
            s.events.publish("image", "save", item.image.id, {"name": item.image.id})
        return Streaming(produce(write), content_type="application/x-tar")

    async def load(req: Request) -> Reply:
        """The archive is spooled and checked completely before anything is registered."""
        tmp = os.path.join(images.store.layers.tmp_dir, "load-" + secrets.token_hex(8) + ".tar")
        try:
            await spool(req.stream(), tmp)
            loaded = await asyncio.to_thread(archive.load_archive, images.store, tmp)
        except InvalidArgument as exc:  # Docker reports a bad archive in the 200 answer's JSON stream
            return Reply(200, json_line({"errorDetail": {"message": exc.message}, "error": exc.message}))
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        lines = []
        for img, tags in loaded:
            s.events.publish("image", "load", img.id, {"name": img.id})
            if not tags:
                lines.append(json_line({"stream": f"Loaded image ID: {img.id}\n"}))
            for tag in tags:
                ref = reference.parse(tag)
                old = images.store.refs.get(str(ref))
                if old and old != img.id:
                    lines.append(json_line({"stream": f"The image {ref.familiar()} already exists, renaming the old one with ID {old} to empty string\n"}))
                images.tag(img, ref)
                lines.append(json_line({"stream": f"Loaded image: {ref.familiar()}\n"}))
        return Reply(200, b"".join(lines))

    router.add("GET", "/images/json", list_images)
    router.add("POST", "/images/create", create)
    router.add("POST", "/images/load", load)
    router.add("POST", "/images/prune", prune)
    router.add("GET", "/images/get", save)
    router.add("GET", "/images/{name:.+}/get", save)
    router.add("GET", "/images/{name:.+}/json", inspect)
    router.add("GET", "/images/{name:.+}/history", history)
    router.add("POST", "/images/{name:.+}/tag", tag)
    router.add("DELETE", "/images/{name:.+}", remove)
