"""POST /build: the classic builder's protocol (tar context in, JSON lines out)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections.abc import Callable
from typing import Any

from engine.api.http import Reply, Request, Streaming
from engine.api.router import Router, query_bool
from engine.api.services import Services
from engine.build import dockerfile
from engine.build.context import BuildContext
from engine.build.executor import Build
from engine.build.state import BuildOptions
from engine.build.stream import build_stream, remove_workdir
from engine.errors import InvalidArgument
from engine.images import reference
from engine.images.registry.auth import RegistryAuths
from engine.images.registry.pull import Puller
from engine.images.store import Image
from engine.util.filters import Filters
from engine.util.threadstream import spool


def _json_map(req: Request, name: str) -> dict[str, Any]:
    raw = req.arg(name)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise InvalidArgument(f"invalid {name}: not JSON") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"invalid {name}: expected a JSON object")
    return value


def _json_list(req: Request, name: str) -> list[str]:
    raw = req.arg(name)
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        raise InvalidArgument(f"invalid {name}: not JSON") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"invalid {name}: expected a JSON list of strings")
    return value


def _cache_sources(s: Services, names: list[str]) -> frozenset[str] | None:
    """--cache-from: the images named (those that exist) and their ancestors; None when none was asked for.

    As Docker's classic builder, asking for cache sources replaces the local build cache.
    """
    if not names:
        return None
    store = s.images.store
    allowed: set[str] = set()
    for name in names:
        img = store.find(name)
        while img is not None and img.id not in allowed:
            allowed.add(img.id)
            img = store.images.get(img.parent) if img.parent else None
    return frozenset(allowed)


def _unpack_context(archive: str, root: str, dockerfile: str) -> BuildContext:
    """Extract the spooled context tar into `root` (then drop the tar)."""
    with open(archive, "rb") as f:
        ctx = BuildContext.from_tar(f, root, dockerfile)
    os.unlink(archive)
    return ctx


def register(router: Router, s: Services, puller: Puller) -> None:
    async def build(req: Request) -> Streaming:
        auths = RegistryAuths.from_header(req.headers.get("x-registry-config"))  # a bad header: 400 before the body
        if req.arg("version") == "2":
            raise InvalidArgument("BuildKit is not supported by this engine: build with DOCKER_BUILDKIT=0")
        if req.arg("remote"):
            raise InvalidArgument("remote build contexts are not supported: send the context as a tar")
        tags = [reference.parse(t) for t in req.args("t") if t]
        opts = BuildOptions(
            dockerfile=req.arg("dockerfile") or "Dockerfile", tags=tuple(str(t) for t in tags),
            build_args={str(k): (None if v is None else str(v)) for k, v in _json_map(req, "buildargs").items()},
            labels={str(k): str(v) for k, v in _json_map(req, "labels").items()}, target=req.arg("target") or "",
            no_cache=query_bool(req, "nocache"), rm=query_bool(req, "rm", True), force_rm=query_bool(req, "forcerm"),
            quiet=query_bool(req, "q"), network_mode="" if req.arg("networkmode") in (None, "", "default") else req.arg("networkmode") or "",
            extra_hosts=tuple(req.args("extrahosts")), pull=query_bool(req, "pull"), cache_from=_cache_sources(s, _json_list(req, "cachefrom")),
        )
        workdir = os.path.join(s.images.store.layers.tmp_dir, "build-" + secrets.token_hex(8))
        os.makedirs(workdir)
        try:
            archive = os.path.join(workdir, "context.tar")
            await spool(req.stream(), archive)
            # unpacking a large context takes a while: not on the event loop
            ctx = await asyncio.to_thread(_unpack_context, archive, os.path.join(workdir, "context"), opts.dockerfile)
            text = ctx.read(opts.dockerfile)
            if text is None:
                raise InvalidArgument(f"Cannot locate specified Dockerfile: {opts.dockerfile}")
            if not text.strip():
                raise InvalidArgument(f"the Dockerfile ({opts.dockerfile}) cannot be empty")
            ctx.drop_control_files(opts.dockerfile)
            parsed = dockerfile.parse(text)
            firsts = [i for i in parsed.instructions if i.keyword != "ARG"]
            if not firsts or firsts[0].keyword != "FROM":
                kw = firsts[0].keyword.lower() if firsts else "commit"
                raise InvalidArgument(f"Please provide a source image with `from` prior to {kw}")
        except BaseException:
            remove_workdir(workdir)
            raise
        async def pull_base(ref: reference.Reference, emit: Callable[[dict[str, Any]], None]) -> Image:
            result = await puller.pull_and_tag(s.images, ref, auths.for_domain(ref.domain), emit)
            return result.image

        job = Build(s.images, s.containers, ctx, parsed, opts, workdir, pull_base)
        return Streaming(build_stream(job, tags, lambda: remove_workdir(workdir)))

    async def prune(req: Request) -> Reply:
        """The classic builder's cache is its intermediate images (image prune removes them): nothing else to free."""
        Filters.parse(req.arg("filters"))
        return Reply.json({"CachesDeleted": None, "SpaceReclaimed": 0})

    router.add("POST", "/build", build)
    router.add("POST", "/build/prune", prune)
