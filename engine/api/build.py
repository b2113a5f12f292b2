"""POST /build: the classic builder's protocol (tar context in, JSON lines out)."""

from __future__ import annotations

import json
import os
import secrets
from typing import Any

from engine.api.http import Request, Streaming
from engine.api.router import Router, query_bool
from engine.api.services import Services
from engine.build import dockerfile
from engine.build.context import BuildContext
from engine.build.executor import Build
from engine.build.state import BuildOptions
from engine.build.stream import build_stream, remove_workdir
from engine.errors import InvalidArgument
from engine.images import reference
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


def register(router: Router, s: Services) -> None:
    async def build(req: Request) -> Streaming:
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
        )
        workdir = os.path.join(s.images.store.layers.tmp_dir, "build-" + secrets.token_hex(8))
        os.makedirs(workdir)
        try:
            archive = os.path.join(workdir, "context.tar")
            await spool(req.stream(), archive)
            with open(archive, "rb") as f:
                ctx = BuildContext.from_tar(f, os.path.join(workdir, "context"))
            os.unlink(archive)
            text = ctx.read(opts.dockerfile)
            if text is None:
                raise InvalidArgument(f"Cannot locate specified Dockerfile: {opts.dockerfile}")
            if not text.strip():
                raise InvalidArgument(f"the Dockerfile ({opts.dockerfile}) cannot be empty")
            parsed = dockerfile.parse(text)
            firsts = [i for i in parsed.instructions if i.keyword != "ARG"]
            if not firsts or firsts[0].keyword != "FROM":
                kw = firsts[0].keyword.lower() if firsts else "commit"
                raise InvalidArgument(f"Please provide a source image with `from` prior to {kw}")
        except BaseException:
            remove_workdir(workdir)
            raise
        job = Build(s.images, s.containers, ctx, parsed, opts, workdir)
        return Streaming(build_stream(job, tags, lambda: remove_workdir(workdir)))

    router.add("POST", "/build", build)
