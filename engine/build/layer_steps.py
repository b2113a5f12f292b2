"""The build steps that make layers: WORKDIR, COPY/ADD (into an overlay of the current
image) and RUN (in a real container on the default bridge, its output streamed).

A mixin of `engine.build.executor.Build`: it uses the build's stores, options,
output and commit helpers (`_cached`, `_use`, `_commit_dir`, `_chain`).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from abc import ABC, abstractmethod
from typing import Any

from engine.build import shellwords
from engine.build.context import BuildContext, ContextError, Source, content_hash
from engine.build.copying import copy_into
from engine.build.dockerfile import Instruction
from engine.build.instructions import apply
from engine.build.state import BuildError, Stage, cache_key, go_quote_list
from engine.containers import users
from engine.containers.commit import runtime_mountpoints
from engine.containers.logs import FrameReader, LogOptions, read_logs
from engine.containers.sandbox import read_rootfs_file
from engine.images.store import Image
from engine.snapshots.rootfs import Rootfs

STDERR_START, STDERR_END = "\x1b[91m", "\x1b[0m"


class LayerSteps(ABC):
    """WORKDIR, COPY, ADD and RUN for `Build`."""

    # provided by Build
    store: Any
    layers: Any
    containers: Any
    opts: Any
    workdir: str
    ctx: BuildContext
    df: Any
    stages: list[Stage]

    @abstractmethod
    def say(self, text: str) -> None: ...
    @abstractmethod
    def _cached(self, stage: Stage, key: str) -> Image | None: ...
    @abstractmethod
    def _use(self, stage: Stage, img: Image, cached: bool) -> None: ...
    @abstractmethod
    def _commit_dir(self, stage: Stage, upper: str, created_by: str, config: dict[str, Any], key: str) -> Image: ...
    @abstractmethod
    def _chain(self, stage: Stage) -> list[str]: ...

    async def _workdir(self, stage: Stage, ins: Instruction) -> None:
        path = shellwords.expand(ins.args, stage.env(), self.df.escape)
        if not path:
            raise BuildError(f"WORKDIR requires exactly one argument (line {ins.line})")
        config = apply(stage.config, "WORKDIR", path)
        created_by = f"/bin/sh -c #(nop) WORKDIR {config['WorkingDir']}"
        key = cache_key(stage.image_id, created_by, config)
        hit = self._cached(stage, key)
        if hit is not None:
            self._use(stage, hit, cached=True)
            return
        await self._in_rootfs(stage, created_by, config, key, lambda rootfs: _mkdir_in(rootfs, config["WorkingDir"]))

    async def _copy(self, stage: Stage, ins: Instruction) -> None:
        env, esc = stage.env(), self.df.escape
        args = list(ins.json_args) if ins.json_args is not None else shellwords.words(ins.args, env, esc)
        if ins.json_args is not None:
            args = [shellwords.expand(a, env, esc) for a in args]
        if len(args) < 2:
            raise BuildError(
                f"{ins.keyword} requires at least two arguments, but only one was provided. "
                f"Destination could not be determined. (line {ins.line})"
            )
        *patterns, dest = args
        from_ref = ins.flags.get("from")
        mounted: Rootfs | None = None
        try:
            if from_ref:
                root, mounted = self._from_root(from_ref)
                ctx = BuildContext(root)
            else:
                ctx = self.ctx
            sources: list[Source] = []
            for pattern in patterns:
                if ins.keyword == "ADD" and pattern.startswith(("http://", "https://")):
                    raise BuildError(f"ADD from a URL is not supported by this engine: {pattern}")
                try:
                    sources.extend(ctx.match(pattern))
                except ContextError as exc:
                    raise BuildError(f"{ins.keyword} failed: {exc.message}") from None
            digest = await asyncio.to_thread(content_hash, sources)
            kind = "multi" if len(sources) > 1 else "dir" if os.path.isdir(sources[0].path) else "file"
            created_by = f"/bin/sh -c #(nop) {ins.keyword} {kind}:{digest} in {dest} "
            config = dict(stage.config)
            key = cache_key(stage.image_id, created_by, config, json.dumps(ins.flags, sort_keys=True))
            hit = self._cached(stage, key)
            if hit is not None:
                self._use(stage, hit, cached=True)
                return
            chown = ins.flags.get("chown", "")
            workdir = config.get("WorkingDir") or "/"
            unpack = ins.keyword == "ADD"

            def work(rootfs: str) -> None:
                owner = None
                if chown:
                    u = users.resolve(chown, read_rootfs_file(rootfs, "/etc/passwd"), read_rootfs_file(rootfs, "/etc/group"))
                    owner = (u.uid, u.gid)
                copy_into(rootfs, sources, dest, workdir, owner, unpack)

            await self._in_rootfs(stage, created_by, config, key, work)
        finally:
            if mounted is not None:
                mounted.remove()

    def _from_root(self, ref: str) -> tuple[str, Rootfs]:
        previous = next((s for s in self.stages if s.name == ref.lower()), None)
        if previous is not None:
            chain = self._chain(previous)
        else:
            img = self.store.find(ref)
            if img is None:
                raise BuildError(f"invalid from flag value {ref}: no stage or image with that name")
            chain = list(img.chain)
        rootfs = Rootfs(self.layers, os.path.join(self.workdir, "from-" + secrets.token_hex(4)))
        return rootfs.mount(chain), rootfs

    async def _in_rootfs(self, stage: Stage, created_by: str, config: dict[str, Any], key: str, work: Any) -> None:
        rootfs = Rootfs(self.layers, os.path.join(self.workdir, "step-" + secrets.token_hex(4)))
        try:
            merged = rootfs.mount(self._chain(stage))
            try:
                await asyncio.to_thread(work, merged)
            finally:
                rootfs.unmount()
            self._use(stage, self._commit_dir(stage, rootfs.upper, created_by, config, key), cached=False)
        finally:
            rootfs.remove()

    # -- RUN --------------------------------------------------------------------------------------
    async def _run(self, stage: Stage, ins: Instruction) -> None:
        if ins.flags:
            raise BuildError(f"the --{next(iter(ins.flags))} option requires BuildKit")
        cmd = list(ins.json_args) if ins.json_args is not None else [*stage.shell(), ins.args]
        build_env = [f"{k}={v}" for k, v in sorted(stage.args.items())]
        prefix = f"|{len(build_env)} {' '.join(build_env)} " if build_env else ""
        created_by = prefix + (" ".join(cmd) if ins.json_args is None else go_quote_list(cmd))
        config = dict(stage.config)
        key = cache_key(stage.image_id, created_by, config)
        hit = self._cached(stage, key)
        if hit is not None:
            self._use(stage, hit, cached=True)
            return
        if not stage.image_id:
            raise BuildError("RUN needs a base image with a shell: use FROM with an image, not scratch only")
        env_keys = {e.partition("=")[0] for e in config.get("Env") or []}
        env = list(config.get("Env") or []) + [e for e in build_env if e.partition("=")[0] not in env_keys]
        body = {
            "Image": stage.image_id, "Cmd": cmd, "Entrypoint": [""], "Env": env, "User": config.get("User") or "",
            "WorkingDir": config.get("WorkingDir") or "", "Labels": {}, "Healthcheck": {"Test": ["NONE"]},
            "AttachStdout": True, "AttachStderr": True,
            "HostConfig": {"NetworkMode": self.opts.network_mode or "default", "ExtraHosts": list(self.opts.extra_hosts)},
        }
        c = await self.containers.create(body, None)
        self.say(f" ---> Running in {c.short_id}\n")
        keep = False
        failed = True
        committed: Image | None = None
        try:
            code = await self._run_container(c)
            if code != 0:
                keep = self.opts.force_rm is False and not self.opts.rm
                raise BuildError(f"The command '{' '.join(cmd)}' returned a non-zero code: {code}", code)
            upper = self.containers.registry.store.paths(c.id).fs + "/upper"
            _drop_runtime_mountpoints(upper, self.layers, self._chain(stage))
            committed = self._commit_dir(stage, upper, created_by, config, key)
            failed = False
        finally:
            if not keep and c.id in self.containers.registry.by_id:
                await self.containers.remove(c, force=True, volumes=True)
                if not failed and (self.opts.rm or self.opts.force_rm):
                    self.say(f"Removing intermediate container {c.short_id}\n")
        if committed is not None:
            self._use(stage, committed, cached=False)

    async def _run_container(self, c: Any) -> int:
        path = self.containers.registry.store.paths(c.id).log
        exited = self.containers.lifecycle.exit_future(c)
        await self.containers.start(c)

        def running() -> bool:
            return not exited.done()

        frames = FrameReader()
        async for chunk in read_logs(path, LogOptions(follow=True), False, running, lambda: exited):
            for stream, data in frames.feed(chunk):
                text = data.decode(errors="replace")
                # Docker's classic builder shows a step's stderr in red, one message per write
                self.say(text if stream == 1 else f"{STDERR_START}{text}{STDERR_END}")
        return await asyncio.shield(exited)


def _mkdir_in(rootfs: str, path: str) -> None:
    from engine.build.copying import _makedirs

    _makedirs(rootfs, path, None)


def _drop_runtime_mountpoints(upper: str, layers: Any, chain: list[str]) -> None:
    """Files and dirs runc made as mount points for /etc/hosts, /proc, ... are not the build's."""
    for rel in runtime_mountpoints(upper, [layers.get(c).diff for c in chain]):
        path = os.path.join(upper, rel)
        try:
            os.rmdir(path) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)
        except OSError:
            pass
