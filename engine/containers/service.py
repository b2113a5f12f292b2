"""Container operations as the Docker API offers them: create, list, rename,
remove, restart, wait, top, stats — on top of `Lifecycle` (start/stop/signals).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import signal as signals
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.api import schema
from engine.containers import cgroups, links, mountplan, names, restart
from engine.containers.create import command_of, merge_config, normalize_host_config
from engine.containers.etcwriter import write_etc_files
from engine.containers.lifecycle import Lifecycle
from engine.containers.model import (
    DEAD,
    EXITED,
    PAUSED,
    REMOVING,
    RESTARTING,
    RUNNING,
    STATUSES,
    Container,
)
from engine.containers.registry import Registry
from engine.errors import Conflict, EngineError, InvalidArgument, NotFound
from engine.images import reference
from engine.images.service import ImageService
from engine.images.store import Image, ImageStore
from engine.network.ports import requests_from
from engine.observe import metrics
from engine.util.filters import Filters
from engine.util.timefmt import now_ns

STATS_INTERVAL = 1.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ListOptions:
    all: bool = False
    limit: int = -1
    size: bool = False
    filters: Filters = field(default_factory=Filters)


class ContainerService:
    def __init__(self, registry: Registry, lifecycle: Lifecycle, images: ImageService) -> None:
        self.registry = registry
        self.volumes = lifecycle.volumes
        self.lifecycle = lifecycle
        self.images = images
        self.removal_hooks: list[Any] = []
        self._backoff: dict[str, restart.Backoff] = {}
        lifecycle.on_exit_hooks.append(self._after_exit)

    def get(self, ref: str) -> Container:
        return self.registry.get(ref)

    # -- ImageUsers ------------------------------------------------------------------
    def containers_using(self, image_id: str) -> list[tuple[str, bool]]:
        return [(c.id, c.state.status in (RUNNING, PAUSED, RESTARTING)) for c in self.registry.all() if c.image_id == image_id]

    def layers_in_use(self) -> Iterable[str]:
        for c in self.registry.all():
            yield from c.layer_chain

    # -- create ------------------------------------------------------------------------
    async def create(self, body: Any, name: str | None) -> Container:
        body = schema.check_create_body(body)
        image_name = body.get("Image") or ""
        if not image_name:
            raise InvalidArgument("Config cannot be empty in order to create a container")
        img = self.images.store.find(image_name)
        if img is None:
            try:
                shown = reference.parse(image_name).familiar()
            except InvalidArgument:
                shown = image_name
            raise NotFound(f"No such image: {shown}")
        cid = secrets.token_hex(32)
        if name:
            name = names.validate(name)
        else:
            name = names.generate(set(self.registry.by_name))
        host_config, warnings = normalize_host_config(body.get("HostConfig"), self.lifecycle.settings.host)
        if links.legacy(host_config):
            links.check_children(host_config.get("Links"), self.registry.find)
            host_config["Links"] = links.records(name, host_config.get("Links"))
        config = merge_config(body, img.container_config)
        if host_config["NetworkMode"] == "host" and not body.get("Hostname"):
            config["Hostname"] = os.uname().nodename
        elif not config["Hostname"]:
            config["Hostname"] = cid[:12]
        path, args = command_of(config)
        networks = self.lifecycle.sandboxes.initial_networks(host_config, body.get("NetworkingConfig") or {})
        requests_from(host_config.get("PortBindings"), config.get("ExposedPorts"), host_config["PublishAllPorts"])
        if host_config["NetworkMode"] == "host" and (host_config.get("PortBindings") or host_config["PublishAllPorts"]):
            warnings.append("Published ports are discarded when using host network mode")
        c = Container(
            id=cid, name=name, created_ns=now_ns(), image_id=img.id, config=config, host_config=host_config,
            path=path, args=args, layer_chain=list(img.chain), warnings=warnings, networks=networks,
        )
        self.registry.reserve_name(name, cid)
        created_volumes: list[str] = []
        try:
            c.mounts, created_volumes = mountplan.plan(host_config, config.get("Volumes"), self.volumes,
                                                       self.registry.find)
            self.write_etc_files(c)
            self.lifecycle.rootfs(c).prepare()
            self.registry.add(c)
            self.registry.save(c)
        except BaseException:
            self.registry.release_name(name, cid)
            self.registry.store.remove(cid)
            self.registry.discard(c)
            for vol in created_volumes:
                self.volumes.remove(vol, force=True)
            raise
        self.lifecycle.event(c, "create")
        return c

    def write_etc_files(self, c: Container) -> None:
        write_etc_files(self.registry.store.paths(c.id), c)

    async def start(self, c: Container) -> None:
        """Start; a --rm container that cannot start is removed, as Docker does."""
        if c.state.status not in (RESTARTING,):
            c.state.restart_count = 0  # a manual start begins the policy's count anew
            self._backoff.pop(c.id, None)
        try:
            await self.lifecycle.start(c)
        except EngineError as exc:
            if exc.status != 304 and c.host_config.get("AutoRemove") and c.id in self.registry.by_id:
                await self.remove(c, force=True, volumes=True)
            raise

    # -- remove --------------------------------------------------------------------------
    async def remove(self, c: Container, force: bool = False, volumes: bool = False) -> None:
        running = (RUNNING, PAUSED, RESTARTING)
        if c.state.status in running and not force:
            if c.state.status == PAUSED:
                raise Conflict(f"You cannot remove a paused container {c.id}. Unpause and then stop the container before attempting removal or force remove")
            if c.state.status == RESTARTING:
                raise Conflict(f"You cannot remove a restarting container {c.id}. Stop the container before attempting removal or force remove")
            raise Conflict(f"You cannot remove a running container {c.id}. Stop the container before attempting removal or force remove")
        if force:
            c.state.manually_stopped = True  # no restart policy brings it back from here on
        for _attempt in range(5):
            if c.state.status == RESTARTING:
                self.lifecycle.cancel_restart(c)
            if c.state.status in (RUNNING, PAUSED):
                self.lifecycle.event(c, "kill", {"signal": str(int(signals.SIGKILL))})
                await self.lifecycle.signal(c, signals.SIGKILL)
                await self.lifecycle.wait_exit(c, 30)
            async with self.registry.lock(c):
                if c.id not in self.registry.by_id:
                    return  # removed meanwhile (--rm after the kill): what was asked is done
                if c.state.status == REMOVING:
                    raise Conflict(f"removal of container {c.id} is already in progress")
                if c.state.status in running:
                    continue  # a restart slipped in before the kill: kill again
                c.state.status = REMOVING
                await self._remove_locked(c, volumes)
                return
        raise Conflict(f"You cannot remove a running container {c.id}. Stop the container before attempting removal or force remove")

    async def _remove_locked(self, c: Container, volumes: bool) -> None:
        try:
            if os.path.exists(self.lifecycle.runtime.state_dir(c.id)):
                await self.lifecycle.runtime.delete(c.id, force=True)
            await self.lifecycle.sandboxes.detach(c)
            self.lifecycle.rootfs(c).remove()
            for hook in self.removal_hooks:
                await hook(c, volumes)
        except Exception:
            c.state.status = DEAD
            self.registry.save(c)
            raise
        self.registry.store.remove(c.id)
        self.registry.discard(c)
        if volumes:
            used = mountplan.in_use(self.registry.all())
            for m in c.mounts:
                if m["Type"] == "volume" and m.get("Anonymous") and not used.get(m["Name"]):
                    self.volumes.remove(m["Name"], force=True)
        self.lifecycle.event(c, "destroy")
        self.lifecycle.mark_removed(c)

    async def _after_exit(self, c: Container) -> None:
        if c.id not in self.registry.by_id or c.state.status != EXITED:
            return
        if c.host_config.get("AutoRemove"):
            await self.remove(c, force=False, volumes=True)
        elif restart.should_restart(c):
            self.schedule_restart(c)

    def schedule_restart(self, c: Container) -> None:
        backoff = self._backoff.setdefault(c.id, restart.Backoff())
        delay = backoff.next(max(0, c.state.finished_ns - c.state.started_ns))
        c.state.status = RESTARTING
        self.registry.save(c)
        self.lifecycle.pending_restarts[c.id] = asyncio.get_running_loop().create_task(self._restart_later(c, delay))

    async def _restart_later(self, c: Container, delay: float) -> None:
        await asyncio.sleep(delay)
        async with self.registry.lock(c):
            if self.lifecycle.pending_restarts.get(c.id) is not asyncio.current_task():
                return
            del self.lifecycle.pending_restarts[c.id]
            if c.state.status != RESTARTING or c.id not in self.registry.by_id:
                return
            if c.state.manually_stopped:
                c.state.status = EXITED
                self.registry.save(c)
                return
            c.state.restart_count += 1
            metrics.count_restart("policy")
            try:
                await self.lifecycle._start_locked(c)
            except EngineError as exc:
                log.warning("restart of %s failed: %s", c.short_id, exc.message)

    async def restart_at_boot(self) -> None:
        """Engine start: containers whose policy brings them back after their processes died."""
        for c in self.registry.all():
            if c.state.status == RESTARTING and c.id not in self.lifecycle.pending_restarts:
                c.state.status = EXITED
            if c.state.status == EXITED and restart.restart_at_boot(c):
                try:
                    await self.start(c)
                except EngineError as exc:
                    log.warning("could not restart %s at engine start: %s", c.short_id, exc.message)

    # -- rename, restart, wait ---------------------------------------------------------
    async def rename(self, c: Container, new_name: str) -> None:
        if not new_name:
            raise InvalidArgument("Neither old nor new names may be empty")
        new_name = names.validate(new_name)
        if new_name == c.name:
            raise InvalidArgument("Renaming a container with the same name as its current name")
        async with self.registry.lock(c):
            old = c.name
            self.registry.reserve_name(new_name, c.id)
            c.name = new_name
            self.registry.release_name(old, c.id)
            self.registry.save(c)
            self.lifecycle.event(c, "rename", {"oldName": "/" + old})

    async def restart(self, c: Container, timeout: int | None) -> None:
        if c.state.status in (RUNNING, PAUSED, RESTARTING):
            await self.lifecycle.stop(c, timeout)
        await self.start(c)
        self.lifecycle.event(c, "restart")
        metrics.count_restart("manual")

    async def wait(self, c: Container, condition: str) -> int:
        if condition not in ("", "not-running", "next-exit", "removed"):
            raise InvalidArgument(f"invalid condition: {condition!r}")
        if condition == "removed":
            return await asyncio.shield(self.lifecycle.removed_future(c))
        if condition == "next-exit" or c.state.status in (RUNNING, PAUSED, RESTARTING):
            return await asyncio.shield(self.lifecycle.exit_future(c))
        return c.state.exit_code

    # -- list --------------------------------------------------------------------------
    def list(self, opts: ListOptions) -> list[Container]:
        f = opts.filters
        f.validate({"id", "name", "label", "label!", "status", "ancestor", "before", "since", "exited",
                    "health", "volume", "network", "publish", "expose", "is-task"})
        for status in f.values("status"):
            if status not in STATUSES:
                raise InvalidArgument(f"Invalid filter 'status={status}'")
        for health in f.values("health"):
            if health not in ("starting", "healthy", "unhealthy", "none"):
                raise InvalidArgument(f"Unrecognised filter value for health: {health}")
        ancestors: set[str] = set()
        for a in f.values("ancestor"):
            img = self.images.store.find(a)
            if img is not None:
                ancestors.add(img.id)
                ancestors.update(i.id for i in _descendants(self.images.store, img.id))
        before = self.get(f.one("before")).created_ns if f.has("before") else None
        since = self.get(f.one("since")).created_ns if f.has("since") else None
        exited = [int(x) for x in f.values("exited") if x.lstrip("-").isdigit()]
        out = []
        for c in sorted(self.registry.all(), key=lambda c: -c.created_ns):
            status = c.state.status
            show_all = opts.all or opts.limit > 0 or f.has("status") or f.has("exited")
            if not show_all and status not in (RUNNING, PAUSED, RESTARTING):
                continue
            if f.has("id") and not any(c.id.startswith(v) for v in f.values("id")):
                continue
            if f.has("name") and not any(_name_match(v, c.name) for v in f.values("name")):
                continue
            if not f.match_labels(c.config.get("Labels")):
                continue
            if f.has("status") and status not in f.values("status"):
                continue
            if f.has("ancestor") and c.image_id not in ancestors:
                continue
            if before is not None and c.created_ns >= before:
                continue
            if since is not None and c.created_ns <= since:
                continue
            if exited and (status != EXITED or c.state.exit_code not in exited):
                continue
            if f.has("health"):
                health = c.state.health.status if c.state.health else "none"
                if health not in f.values("health"):
                    continue
            if f.has("network") and not _on_network(c, f.values("network")):
                continue
            if f.has("volume") and not any(
                v in (m.get("Name"), m.get("Destination"), m.get("Source")) for v in f.values("volume") for m in c.mounts
            ):
                continue
            if f.has("is-task") and f.bool_value("is-task", None):
                continue
            out.append(c)
            if opts.limit > 0 and len(out) >= opts.limit:
                break
        return out

    def size(self, c: Container) -> tuple[int, int]:
        rw = self.lifecycle.rootfs(c).size_rw()
        base = self.images.store.images.get(c.image_id)
        return rw, rw + (base.size if base else 0)

    # -- top and stats -------------------------------------------------------------------
    async def top(self, c: Container, ps_args: str) -> dict[str, Any]:
        if c.state.status not in (RUNNING, PAUSED):
            raise Conflict(f"Container {c.id} is not running")
        pids = set(cgroups.pids(self.lifecycle.cgroups_path(c)))
        args = ps_args.split() if ps_args else ["-ef"]
        if any(a.startswith("-") and "q" in a for a in args):
            raise InvalidArgument("ps -q is not supported")
        proc = await asyncio.create_subprocess_exec(
            "ps", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        if proc.returncode:
            raise InvalidArgument(f"Error running ps: {err.decode(errors='replace').strip()}")
        lines = out.decode(errors="replace").splitlines()
        if not lines:
            raise InvalidArgument("ps printed nothing")
        titles = lines[0].split()
        try:
            pid_index = titles.index("PID")
        except ValueError:
            raise InvalidArgument("Couldn't find PID field in ps output") from None
        processes = []
        for line in lines[1:]:
            fields = line.split(None, len(titles) - 1)
            if len(fields) <= pid_index or not fields[pid_index].isdigit():
                continue
            if int(fields[pid_index]) in pids:
                processes.append(fields)
        self.lifecycle.event(c, "top")
        return {"Titles": titles, "Processes": processes}

    def _stats_sample(self, c: Container) -> dict[str, Any]:
        base = {"id": c.id, "name": "/" + c.name}
        if c.state.status not in (RUNNING, PAUSED):
            return {**_empty_stats(), **base}
        return {**cgroups.sample(self.lifecycle.cgroups_path(c), c.state.pid), **base}

    async def stats(self, c: Container, stream: bool, one_shot: bool) -> AsyncIterator[dict[str, Any]]:
        previous = self._stats_sample(c)
        if not stream and one_shot:
            yield {**previous, "preread": "0001-01-01T00:00:00Z", "precpu_stats": _empty_stats()["precpu_stats"]}
            return
        if not stream:
            await asyncio.sleep(0.5)
            current = self._stats_sample(c)
            yield {**current, "preread": previous["read"], "precpu_stats": previous["cpu_stats"]}
            return
        yield {**previous, "preread": "0001-01-01T00:00:00Z", "precpu_stats": _empty_stats()["precpu_stats"]}
        while True:
            await asyncio.sleep(STATS_INTERVAL)
            if c.id not in self.registry.by_id:
                return
            current = self._stats_sample(c)
            yield {**current, "preread": previous["read"], "precpu_stats": previous["cpu_stats"]}
            previous = current


def _empty_stats() -> dict[str, Any]:
    cpu = {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
           "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}
    return {
        "read": "0001-01-01T00:00:00Z", "preread": "0001-01-01T00:00:00Z", "pids_stats": {},
        "blkio_stats": {"io_service_bytes_recursive": None, "io_serviced_recursive": None, "io_queue_recursive": None,
                        "io_service_time_recursive": None, "io_wait_time_recursive": None, "io_merged_recursive": None,
                        "io_time_recursive": None, "sectors_recursive": None},
        "num_procs": 0, "storage_stats": {}, "cpu_stats": cpu, "precpu_stats": cpu, "memory_stats": {},
    }


def _name_match(pattern: str, name: str) -> bool:
    try:
        return re.search(pattern, name) is not None or re.search(pattern, "/" + name) is not None
    except re.error:
        return pattern in name


def _on_network(c: Container, wanted: list[str]) -> bool:
    """Docker's `network` filter: a network's name or its full ID."""
    return any(name in wanted or (settings or {}).get("NetworkID") in wanted for name, settings in c.networks.items())


def _descendants(store: ImageStore, image_id: str) -> list[Image]:
    """Every image built on `image_id`, at any depth."""
    out = []
    queue = [image_id]
    while queue:
        current = queue.pop()
        for child in store.children(current):
            out.append(child)
            queue.append(child.id)
    return out
