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
from collections.abc import Awaitable, Callable
from typing import Any

from engine.build import shellwords
from engine.build.context import BuildContext
from engine.build.dockerfile import Dockerfile, Instruction
from engine.build.instructions import apply, parse_healthcheck
from engine.build.layer_steps import LayerSteps
from engine.build.state import (
    PREDEFINED_ARGS,
    BuildError,
    BuildOptions,
    Stage,
    cache_key,
    go_quote_list,
    next_config,
    nop,
    scratch_config,
)
from engine.containers.service import ContainerService
from engine.errors import InvalidArgument
from engine.images import reference
from engine.images.config import encode
from engine.images.service import ImageService
from engine.images.store import Image

log = logging.getLogger(__name__)

# How FROM gets an image that is not here: pull the reference (with whatever credentials the
# client sent for its registry), reporting progress as pull messages; the image, tagged.
PullBase = Callable[[reference.Reference, Callable[[dict[str, Any]], None]], Awaitable[Image]]


class Build(LayerSteps):
    """One build: a context, a parsed Dockerfile, options; `run` yields the JSON-lines stream.

    Without `pull_base`, a FROM image must already be here.
    """

    def __init__(self, images: ImageService, containers: ContainerService, ctx: BuildContext, df: Dockerfile,
                 opts: BuildOptions, workdir: str, pull_base: PullBase | None = None) -> None:
        self.images = images
        self.pull_base = pull_base
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
                img = None if self.opts.pull else self.store.find(base)
                if img is None:
                    img = await self._pull_base(base)
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

    async def _pull_base(self, base: str) -> Image:
        """A FROM image that is not here, pulled as `docker pull` would (its progress in the build output)."""
        if self.pull_base is None or not _ok_ref(base):
            raise BuildError(f"pull access denied for {base}, repository does not exist or may require 'docker login': "
                             f"no such image locally ({reference.parse(base).familiar() if _ok_ref(base) else base})")
        return await self.pull_base(reference.parse(base), self._progress)

    def _progress(self, message: dict[str, Any]) -> None:
        if not self.opts.quiet:
            self.out.put_nowait(message)

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
            argv: list[str] = config.get("Cmd" if kw == "CMD" else "Entrypoint") or []
            if kw == "ENTRYPOINT" and not stage.cmd_set:
                config["Cmd"] = None  # an ENTRYPOINT resets a CMD inherited from the base image
            if kw == "CMD":
                stage.cmd_set = True
            created_by = nop(f"{kw} {go_quote_list(argv)}")
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
        hit = self.store.cached(stage.image_id, key)
        if hit is not None and self.opts.cache_from is not None and hit.id not in self.opts.cache_from:
            return None
        return hit

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


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def _ok_ref(text: str) -> bool:
    try:
        reference.parse(text)
        return True
    except InvalidArgument:
        return False
