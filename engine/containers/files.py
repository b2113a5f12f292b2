"""A container's filesystem for `docker cp`, `docker export` and `docker commit`.

`view(c)` yields the container's `ContainerView` (engine.containers.archive): the
rootfs is mounted for the duration if the container is not running (and then
unmounted again), named volumes with a filesystem of their own are mounted too,
and the container is held (its lock) so it cannot start under the operation.
A running container is not locked: its rootfs stays mounted while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from typing import IO

from engine.containers import commit as commits
from engine.containers.archive import ContainerView, write_tar
from engine.containers.model import DEAD, PAUSED, REMOVING, RESTARTING, RUNNING, Container
from engine.containers.service import ContainerService
from engine.errors import Conflict, EngineError
from engine.images import reference
from engine.images.config import encode, full_container_config
from engine.images.store import Image
from engine.snapshots.diff import tar_upper
from engine.util.timefmt import rfc3339_now

LIVE = (RUNNING, PAUSED, RESTARTING)


class ContainerFiles:
    def __init__(self, containers: ContainerService, engine_version: str) -> None:
        self.containers = containers
        self.engine_version = engine_version

    def _mount_table(self, c: Container) -> list[tuple[str, str]]:
        paths = self.containers.registry.store.paths(c.id)
        table = [(dest, src) for dest, src in (("/etc/hosts", paths.hosts), ("/etc/hostname", paths.hostname),
                                               ("/etc/resolv.conf", paths.resolv_conf)) if os.path.exists(src)]
        for m in c.mounts:
            if m["Type"] == "volume" and m.get("Name") in self.containers.volumes.volumes:
                table.append((m["Destination"], self.containers.volumes.volumes[m["Name"]].mountpoint))
            elif m["Type"] == "bind" and os.path.exists(m["Source"]):
                table.append((m["Destination"], os.path.realpath(m["Source"])))
        return table

    @contextlib.asynccontextmanager
    async def view(self, c: Container) -> AsyncIterator[ContainerView]:
        if c.state.status in LIVE:
            yield ContainerView(self.containers.lifecycle.rootfs(c).merged, tuple(self._mount_table(c)))
            return
        async with self.containers.registry.lock(c):
            if c.state.status in (REMOVING, DEAD):
                raise Conflict(f"container {c.id} is marked for removal")
            rootfs = self.containers.lifecycle.rootfs(c)
            volumes = self.containers.volumes
            held = [volumes.volumes[m["Name"]] for m in c.mounts
                    if m["Type"] == "volume" and m.get("Name") in volumes.volumes]
            merged = rootfs.mount(c.layer_chain)
            acquired = []
            try:
                for vol in held:
                    volumes.acquire(vol)
                    acquired.append(vol)
                yield ContainerView(merged, tuple(self._mount_table(c)))
            finally:
                for vol in acquired:
                    volumes.release(vol)
                if c.state.status not in LIVE:
                    rootfs.unmount()

    @contextlib.asynccontextmanager
    async def paused(self, c: Container, pause: bool) -> AsyncIterator[None]:
        """The container frozen for the duration when it runs and `pause` asks for it (commit's default)."""
        if not pause or c.state.status != RUNNING:
            yield
            return
        try:
            await self.containers.lifecycle.pause(c)
        except EngineError:  # it stopped meanwhile; Docker ignores a failed pause too
            yield
            return
        try:
            yield
        finally:
            if c.state.status == PAUSED:
                with contextlib.suppress(EngineError):
                    await self.containers.lifecycle.unpause(c)

    async def commit(self, c: Container, opts: commits.CommitOptions) -> Image:
        """A new image from the container's changes (`docker commit`)."""
        if c.state.status == DEAD:
            raise Conflict(f"You cannot commit container {c.id} which is Dead")
        if c.state.status == REMOVING:
            raise Conflict(f"You cannot commit container {c.id} which is being removed")
        ref = reference.parse_repo_tag(opts.repo, opts.tag or None) if opts.repo else None
        config = commits.new_config(opts, c.config)
        images = self.containers.images
        parent = images.store.images[c.image_id]
        async with self.paused(c, opts.pause), self.view(c):
            layer = await asyncio.to_thread(self._layer_of, c, parent)
        doc = commits.image_config(parent.config, config, c.id, full_container_config(c.config), opts,
                                   layer, rfc3339_now(), self.engine_version)
        img = images.store.add(encode(doc), parent=c.image_id)
        if ref is not None:
            images.tag(img, ref)
        self.containers.lifecycle.event(c, "commit", {"comment": opts.comment, "imageID": img.id,
                                                     "imageRef": ref.familiar() if ref is not None else ""})
        return img

    def _layer_of(self, c: Container, parent: Image) -> str | None:
        """Store the container's upper dir as a layer on `parent`'s; its diff ID, or None when nothing changed."""
        layers = self.containers.images.store.layers
        upper = self.containers.lifecycle.rootfs(c).upper
        skip = commits.runtime_mountpoints(upper, [layers.get(chain).diff for chain in parent.chain])
        if all(name in skip for name in os.listdir(upper)):
            return None  # Docker records an empty layer as history only
        spool = os.path.join(layers.tmp_dir, "commit-" + secrets.token_hex(8))
        try:
            tar_upper(upper, spool, skip)
            return layers.add_from_file(parent.top_layer, spool).diff_id
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(spool)

    def export(self, view: ContainerView, out: IO[bytes]) -> None:
        """The container's root filesystem as one tar, without its volumes (`docker export`)."""
        write_tar(ContainerView(view.root), "/", "", out)

