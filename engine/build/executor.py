"""The classic builder: runs a parsed Dockerfile step by step and reports as Docker does.

Every step makes an intermediate image whose parent is the previous one and
whose build key records what made it; an identical step on the same parent
finds that image again (" ---> Using cache"). RUN runs in a real container on
the default bridge (its output streamed), COPY/ADD/WORKDIR write into an
overlay of the current image; both commit the overlay's upper dir as a layer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
from collections.abc import AsyncIterator
from typing import Any

from engine.build import shellwords
from engine.build.context import BuildContext, ContextError, Source, content_hash
from engine.build.copying import copy_into
from engine.build.dockerfile import Dockerfile, Instruction
from engine.build.instructions import apply, parse_healthcheck
from engine.build.state import (
    PREDEFINED_ARGS,
    BuildOptions,
    Stage,
    cache_key,
    go_quote_list,
    next_config,
    nop,
    scratch_config,
)
from engine.containers import users
from engine.containers.logs import LogOptions, read_logs
from engine.containers.sandbox import read_rootfs_file
from engine.containers.service import ContainerService
from engine.errors import EngineError, InvalidArgument, NotFound
from engine.images import reference
from engine.images.config import encode
from engine.images.service import ImageService
from engine.images.store import Image
from engine.snapshots.rootfs import Rootfs

log = logging.getLogger(__name__)
RUNCONFIG_MOUNT_POINTS = ("etc/hosts", "etc/hostname", "etc/resolv.conf")
RUNCONFIG_MOUNT_DIRS = ("dev", "proc", "sys")


class BuildError(EngineError):
    """A step failed; `code` is what the CLI exits with."""

    status = 400

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class Build:
    """One build: a context, a parsed Dockerfile, options; `run` yields the JSON-lines stream."""

    def __init__(self, images: ImageService, containers: ContainerService, ctx: BuildContext, df: Dockerfile,
                 opts: BuildOptions, workdir: str) -> None:
        self.images = images
        self.store = images.store
        self.layers = images.store.layers
        self.containers = containers
        self.ctx = ctx
        self.df = df
        self.opts = opts
        self.workdir = workdir
        self.stages: list[Stage] = []
        self.meta_args: dict[str, str] = {}
        self.used_args: set[str] = set()
        self.step = 0
        self.total = len(df.instructions) + (1 if opts.labels else 0)
        self.out: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    # -- output ---------------------------------------------------------------------------------
    def say(self, text: str) -> None:
        if not self.opts.quiet:
            self.out.put_nowait({"stream": text})

    def _announce(self, ins: Instruction) -> None:
        self.step += 1
        self.say(f"Step {self.step}/{self.total} : {ins.original}")
        self.say("\n")

    # -- the whole build -------------------------------------------------------------------------
    async def run(self) -> str:
        instructions = list(self.df.instructions)
        index = 0
        while index < len(instructions) and instructions[index].keyword == "ARG":
            self._announce(instructions[index])
            for name, value in self._arg_pairs(instructions[index], {}):
                self.meta_args[name] = value
            index += 1
        if index >= len(instructions):
            raise InvalidArgument("No image was generated. Is your Dockerfile empty?")
        target_reached = False
        for ins in instructions[index:]:
            if ins.keyword == "FROM":
                if target_reached:
                    break
                await self._from(ins)
                if self.opts.target and self.stages[-1].name == self.opts.target.lower():
                    target_reached = True
                continue
            if not self.stages:
                raise InvalidArgument(f"Please provide a source image with `from` prior to {ins.keyword.lower()}")
            await self._dispatch(self.stages[-1], ins)
        if self.opts.target and not target_reached:
            raise BuildError(f"failed to reach build target {self.opts.target} in Dockerfile")
        stage = self.stages[-1]
        if self.opts.labels:
            labels = " ".join(f"{json.dumps(k)}={json.dumps(v)}" for k, v in sorted(self.opts.labels.items()))
            await self._dispatch(stage, Instruction("LABEL", labels, 0, f"LABEL {labels}"))
        if not stage.image_id:
            raise BuildError("No image was generated. Is your Dockerfile empty?")
        unused = sorted(k for k in self.opts.build_args if k not in self.used_args and k not in PREDEFINED_ARGS)
        if unused:
            self.say(f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed\n")
        return stage.image_id

    # -- FROM -------------------------------------------------------------------------------------
    async def _from(self, ins: Instruction) -> None:
        self._announce(ins)
        words = shellwords.words(ins.args, self.meta_args, self.df.escape)
        if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
            raise BuildError(f"FROM requires either one or three arguments (line {ins.line})")
        base = words[0]
        name = words[2].lower() if len(words) == 3 else str(len(self.stages))
        if base.lower() == "scratch":
            stage = Stage(name, "", scratch_config())
        else:
            previous = next((s for s in self.stages if s.name == base.lower()), None)
            if previous is not None:
                img_id, cfg = previous.image_id, json.loads(json.dumps(previous.image_config))
            else:
                img = self.store.find(base)
                if img is None:
                    raise BuildError(f"pull access denied for {base}, repository does not exist or may require 'docker login': "
                                     f"no such image locally ({reference.parse(base).familiar() if _ok_ref(base) else base})")
                img_id, cfg = img.id, json.loads(img.raw)
            stage = Stage(name, img_id, cfg)
            self.say(f" ---> {_short(img_id)}\n")
        self.stages.append(stage)
        triggers = list(stage.config.get("OnBuild") or [])
        if triggers:
            stage.config["OnBuild"] = None
            self.say(f"# Executing {len(triggers)} build trigger{'s' if len(triggers) > 1 else ''}\n")
            from engine.build.dockerfile import parse as parse_dockerfile

            for trigger in triggers:
                for t in parse_dockerfile(trigger).instructions:
                    await self._dispatch(stage, t, announce=False)

    # -- every other instruction ------------------------------------------------------------------
    async def _dispatch(self, stage: Stage, ins: Instruction, announce: bool = True) -> None:
        if announce:
            self._announce(ins)
        kw = ins.keyword
        if kw == "RUN":
            await self._run(stage, ins)
        elif kw in ("COPY", "ADD"):
            await self._copy(stage, ins)
        elif kw == "WORKDIR":
            await self._workdir(stage, ins)
        elif kw == "ARG":
            for name, value in self._arg_pairs(ins, stage.env()):
                stage.args[name] = value
            pairs = " ".join(f"{k}={v}" if v else k for k, v in self._arg_pairs(ins, stage.env(), record=False))
            await self._metadata(stage, nop(f"ARG {pairs}"), stage.config)
        else:
            await self._config_step(stage, ins)

    def _arg_pairs(self, ins: Instruction, env: dict[str, str], record: bool = True) -> list[tuple[str, str]]:
        out = []
        for word in shellwords.words(ins.args, env, self.df.escape):
            name, eq, default = word.partition("=")
            if not name:
                raise BuildError(f"ARG requires at least one argument (line {ins.line})")
            if name in self.opts.build_args and self.opts.build_args[name] is not None:
                value = str(self.opts.build_args[name])
                if record:
                    self.used_args.add(name)
            else:
                value = default if eq else self.meta_args.get(name, "")
                if name in self.opts.build_args and record:
                    self.used_args.add(name)
            out.append((name, value))
        return out

    async def _config_step(self, stage: Stage, ins: Instruction) -> None:
        kw, env, esc = ins.keyword, stage.env(), self.df.escape
        config = dict(stage.config)
        author = None
        if kw in ("ENV", "LABEL"):
            pairs = self._key_values(ins, env)
            text = kw + " " + " ".join(f"{k}={v}" for k, v in pairs)
            for key, value in pairs:
                if kw == "ENV":
                    config["Env"] = [e for e in (config.get("Env") or []) if e.partition("=")[0] != key] + [f"{key}={value}"]
                else:
                    config["Labels"] = {**(config.get("Labels") or {}), key: value}
            created_by = nop(text)
        elif kw in ("CMD", "ENTRYPOINT"):
            config = apply(config, kw, ins.args)
            value = config.get("Cmd" if kw == "CMD" else "Entrypoint") or []
            if kw == "ENTRYPOINT" and not stage.cmd_set:
                config["Cmd"] = None  # an ENTRYPOINT resets a CMD inherited from the base image
            if kw == "CMD":
                stage.cmd_set = True
            created_by = nop(f"{kw} {go_quote_list(value)}")
        elif kw == "SHELL":
            if ins.json_args is None:
                raise BuildError(f"SHELL requires the arguments to be in JSON form (line {ins.line})")
            config = apply(config, kw, ins.args)
            created_by = nop(f"SHELL {go_quote_list(list(ins.json_args))}")
        elif kw == "HEALTHCHECK":
            flags = " ".join(f"--{k}={v}" for k, v in ins.flags.items())
            config["Healthcheck"] = parse_healthcheck(f"{flags} {ins.args}".strip(), stage.shell())
            created_by = nop(f"HEALTHCHECK {ins.args}")
        elif kw == "EXPOSE":
            ports = shellwords.words(ins.args, env, esc)
            config = apply(config, kw, " ".join(ports))
            created_by = nop("EXPOSE " + " ".join(sorted(config.get("ExposedPorts") or {})))
        elif kw == "VOLUME":
            paths = list(ins.json_args) if ins.json_args is not None else shellwords.words(ins.args, env, esc)
            paths = [shellwords.expand(p, env, esc) for p in paths]
            if not paths:
                raise BuildError(f"VOLUME requires at least one argument (line {ins.line})")
            config = apply(config, kw, json.dumps(paths))
            created_by = nop(f"VOLUME [{' '.join(paths)}]")
        elif kw in ("USER", "STOPSIGNAL"):
            value = shellwords.expand(ins.args, env, esc)
            config = apply(config, kw, value)
            created_by = nop(f"{kw} {value}")
        elif kw == "ONBUILD":
            config = apply(config, kw, ins.args)
            created_by = nop(f"ONBUILD {ins.args}")
        elif kw == "MAINTAINER":
            author = shellwords.expand(ins.args, env, esc)
            created_by = nop(f"MAINTAINER {author}")
        else:
            raise BuildError(f"unknown instruction: {kw}")
        await self._metadata(stage, created_by, config, author)

    def _key_values(self, ins: Instruction, env: dict[str, str]) -> list[tuple[str, str]]:
        words = shellwords.words(ins.args, env, self.df.escape)
        if not words:
            raise BuildError(f"{ins.keyword} requires at least one argument (line {ins.line})")
        if "=" not in words[0]:
            if len(words) < 2:
                raise BuildError(f"{ins.keyword} must have two arguments (line {ins.line})")
            rest = ins.args.split(None, 1)[1]
            return [(words[0], shellwords.expand(rest, env, self.df.escape))]
        out = []
        for w in words:
            key, eq, value = w.partition("=")
            if not eq or not key:
                raise BuildError(f"Syntax error - can't find = in {w!r}. Must be of the form: name=value (line {ins.line})")
            out.append((key, value))
        return out

    # -- committing -------------------------------------------------------------------------------
    def _cached(self, stage: Stage, key: str) -> Image | None:
        if self.opts.no_cache:
            return None
        return self.store.cached(stage.image_id, key)

    def _use(self, stage: Stage, img: Image, cached: bool) -> None:
        if cached:
            self.say(" ---> Using cache\n")
        stage.image_id = img.id
        stage.image_config = json.loads(img.raw)
        self.say(f" ---> {_short(img.id)}\n")

    async def _metadata(self, stage: Stage, created_by: str, config: dict[str, Any], author: str | None = None) -> None:
        key = cache_key(stage.image_id, created_by, config)
        hit = self._cached(stage, key)
        if hit is not None:
            self._use(stage, hit, cached=True)
            return
        doc = next_config(stage.image_config, config, created_by, None, author)
        img = self.store.add(encode(doc), parent=stage.image_id, build_key=key)
        self._use(stage, img, cached=False)

    def _commit_dir(self, stage: Stage, upper: str, created_by: str, config: dict[str, Any], key: str) -> Image:
        parent_chain = self.store.images[stage.image_id].top_layer if stage.image_id else None
        layer = self.layers.add_from_dir(parent_chain, upper)
        doc = next_config(stage.image_config, config, created_by, layer.diff_id)
        return self.store.add(encode(doc), parent=stage.image_id, build_key=key)

    def _chain(self, stage: Stage) -> list[str]:
        return list(self.store.images[stage.image_id].chain) if stage.image_id else []

    # -- WORKDIR, COPY, ADD -----------------------------------------------------------------------
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
            raise BuildError(f"{ins.keyword} requires at least two arguments, but only one was provided. Destination could not be determined. (line {ins.line})")
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
            "HostConfig": {"NetworkMode": self.opts.network_mode or "default"},
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
                shown = " ".join(cmd) if ins.json_args is None else " ".join(cmd)
                raise BuildError(f"The command '{shown}' returned a non-zero code: {code}", code)
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

        async for chunk in read_logs(path, LogOptions(follow=True), True, running):
            self.say(chunk.decode(errors="replace"))
        return await asyncio.shield(exited)


def _mkdir_in(rootfs: str, path: str) -> None:
    from engine.build.copying import _makedirs

    _makedirs(rootfs, path, None)


def _drop_runtime_mountpoints(upper: str, layers: Any, chain: list[str]) -> None:
    """Files and dirs runc made as mount points for /etc/hosts, /proc, ... are not the build's."""
    lowers = [layers.get(c).diff for c in chain]
    for rel in RUNCONFIG_MOUNT_POINTS + RUNCONFIG_MOUNT_DIRS:
        path = os.path.join(upper, rel)
        if not os.path.lexists(path) or any(os.path.lexists(os.path.join(low, rel)) for low in lowers):
            continue
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                if not os.listdir(path):
                    os.rmdir(path)
            elif os.path.getsize(path) == 0:
                os.unlink(path)
        except OSError:
            pass


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def _ok_ref(text: str) -> bool:
    try:
        reference.parse(text)
        return True
    except InvalidArgument:
        return False


async def build_stream(build: Build, tags: list[reference.Reference], cleanup: Any) -> AsyncIterator[bytes]:
    """Run the build in the background and yield its JSON lines as they come."""
    from engine.api.streams import error_line, json_line

    async def work() -> None:
        try:
            image_id = await build.run()
            build.out.put_nowait({"aux": {"ID": image_id}})
            for ref in tags:
                build.images.tag(build.store.images[image_id], ref)
            if build.opts.quiet:
                build.out.put_nowait({"stream": image_id + "\n"})
            else:
                build.out.put_nowait({"stream": f"Successfully built {_short(image_id)}\n"})
                for ref in tags:
                    build.out.put_nowait({"stream": f"Successfully tagged {ref.familiar()}\n"})
        except BuildError as exc:
            build.out.put_nowait({"__error__": exc.message, "code": exc.code})
        except NotFound as exc:
            build.out.put_nowait({"__error__": exc.message, "code": 1})
        except EngineError as exc:
            build.out.put_nowait({"__error__": exc.message, "code": 1})
        except Exception as exc:  # noqa: BLE001 - reported in the stream, the engine carries on
            log.exception("build failed")
            build.out.put_nowait({"__error__": f"build failed: {exc}", "code": 1})
        finally:
            build.out.put_nowait(None)

    task = asyncio.create_task(work())
    try:
        while True:
            item = await build.out.get()
            if item is None:
                break
            if "__error__" in item:
                yield error_line(item["__error__"], item["code"])
            else:
                yield json_line(item)
    finally:
        if not task.done():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        cleanup()


def remove_workdir(path: str) -> None:
    from engine.util import mounts

    for point in mounts.mounts_under(path):
        mounts.unmount(point, detach=True)
    shutil.rmtree(path, ignore_errors=True)
