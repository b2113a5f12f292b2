"""A container's root filesystem: its image's layers (read-only) under its own upper dir.

`rootfs_mount` computes the overlay mount (pure); `Rootfs` creates the
directories under `<base>/` (upper, work, merged), mounts, unmounts and removes
them. Above the image's layers sits a read-only init layer shared by every
container, as Docker's: `/.dockerenv` and `/etc/mtab -> /proc/mounts`, so
programs that look for them find them and `docker diff` does not list them.
"""

from __future__ import annotations

import os
import shutil
import threading

from engine.observe.tracing import traced
from engine.snapshots.layers import LayerStore
from engine.util import mounts
from engine.util.mounts import Mount


def rootfs_mount(lowers: list[str], upper: str, work: str, target: str) -> Mount:
    """`lowers` top-most first, as overlayfs wants them."""
    options = f"lowerdir={':'.join(lowers)},upperdir={upper},workdir={work},index=off"
    return Mount("overlay", "overlay", target, options)


class Rootfs:
    def __init__(self, layers: LayerStore, base: str) -> None:
        self.layers = layers
        self.base = base
        self.upper = os.path.join(base, "upper")
        self.work = os.path.join(base, "work")
        self.merged = os.path.join(base, "merged")

    def prepare(self) -> None:
        for d in (self.upper, self.work, self.merged):
            os.makedirs(d, exist_ok=True)

    def lowers(self, chain: list[str]) -> list[str]:
        return [ensure_init_layer(self.layers.root)] + [self.layers.link_path(self.layers.get(c)) for c in reversed(chain)]

    @traced("rootfs.mount")
    def mount(self, chain: list[str]) -> str:
        if mounts.is_mounted(self.merged):
            return self.merged
        self.prepare()
        mounts.mount(rootfs_mount(self.lowers(chain), self.upper, self.work, self.merged))
        return self.merged

    def unmount(self) -> None:
        for point in mounts.mounts_under(self.merged):
            mounts.unmount(point)

    def remove(self) -> None:
        self.unmount()
        shutil.rmtree(self.base, ignore_errors=True)

    def size_rw(self) -> int:
        total = 0
        for dirpath, _dirs, files in os.walk(self.upper):
            for name in files:
                try:
                    st = os.lstat(os.path.join(dirpath, name))
                except FileNotFoundError:
                    continue
                total += st.st_size
        return total


def ensure_init_layer(image_root: str) -> str:
    """The shared init layer under `image_root` (created once; idempotent and race-free)."""
    init = os.path.join(image_root, "init")
    if os.path.isdir(init):
        return init
    tmp = f"{init}.{os.getpid()}.{threading.get_ident()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "etc"), mode=0o755)
    with open(os.path.join(tmp, ".dockerenv"), "w"):
        pass
    os.chmod(os.path.join(tmp, ".dockerenv"), 0o755)
    os.symlink("/proc/mounts", os.path.join(tmp, "etc", "mtab"))
    try:
        os.rename(tmp, init)
    except OSError:  # another container made it first
        shutil.rmtree(tmp, ignore_errors=True)
    return init
