"""What changed in a container's filesystem: Docker's `docker diff`, from the upper dir alone.

Docker compares the container's tree with its image's tree (the "naive" diff of
its graph drivers, `ChangesDirs`), and reports each path once as added (A, kind 1),
changed (C, kind 0) or deleted (D, kind 2):

- a path that is new is A, and so is everything under a new directory;
- a path that exists in both is C when its mode, owner, device number, extended
  capability or (for a non-directory) size or modification time differ — a
  directory's own size and mtime are never a change;
- a path of the image that is gone is D, and nothing under it is listed;
- every directory that holds a change is C (unless it is itself A), up to but not
  including `/`.

Only the container's overlay upper dir can hold changes, so `container_changes`
walks it and looks each path up in the image's layers (top-most first), where
whiteouts (0/0 character devices) and opaque directories (`trusted.overlay.opaque`)
follow overlayfs's rules. The cost is one walk of the upper dir plus an `lstat` per
layer for each path found there; the image's layers are never walked whole.

Paths that Docker keeps in a container's init layer (mount points for /proc,
/sys, /dev and the /etc files the engine bind-mounts) are not changes.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

CHANGE_MODIFY, CHANGE_ADD, CHANGE_DELETE = 0, 1, 2
KIND_LETTERS = {CHANGE_MODIFY: "C", CHANGE_ADD: "A", CHANGE_DELETE: "D"}
OPAQUE_XATTR = "trusted.overlay.opaque"
CAPABILITY_XATTR = "security.capability"

# Mount points runc makes in the upper dir when the image lacks them: never a container's own
# change (Docker's init layer holds them). /.dockerenv and /etc/mtab live in Berth's init layer
# (engine/snapshots/rootfs.py), so removing them is a change, as on Docker.
INIT_LAYER_PATHS = frozenset({"dev", "proc", "sys", "etc/resolv.conf", "etc/hosts", "etc/hostname"})


@dataclass(frozen=True, order=True)
class Change:
    """One changed path, absolute inside the container (`/etc/passwd`)."""

    path: str
    kind: int

    def to_json(self) -> dict[str, object]:
        return {"Path": self.path, "Kind": self.kind}

    def __str__(self) -> str:
        return f"{KIND_LETTERS[self.kind]} {self.path}"


def container_changes(upper: str, lowers: Sequence[str]) -> list[Change]:
    """The changes of the upper dir `upper` over the layers `lowers` (top-most first), sorted by path."""
    if not os.path.isdir(upper):
        return []
    found = dict(_walk(upper, _Lowers(tuple(lowers)), "", opaque=False))
    for rel in list(found):
        parent = os.path.dirname(rel)
        while parent and parent not in found:
            found[parent] = CHANGE_MODIFY
            parent = os.path.dirname(parent)
    return sorted(Change("/" + rel, kind) for rel, kind in found.items())


def _walk(upper: str, lowers: _Lowers, rel_dir: str, opaque: bool) -> Iterator[tuple[str, int]]:
    """Changes under `rel_dir`; `opaque` when the image's content below it is hidden."""
    names = _listdir(os.path.join(upper, rel_dir))
    for name in names:
        rel = f"{rel_dir}/{name}" if rel_dir else name
        if rel in INIT_LAYER_PATHS:
            continue
        path = os.path.join(upper, rel)
        st = _lstat(path)
        if st is None:
            continue  # removed while we walk: a running container changes under us
        if _is_whiteout(st):
            if not opaque and lowers.lstat(rel) is not None:
                yield rel, CHANGE_DELETE
            continue
        found = lowers.find(rel)
        if found is None:
            yield rel, CHANGE_ADD
            if stat.S_ISDIR(st.st_mode):
                yield from _all_added(upper, rel)
            continue
        old_path, old = found
        if _differs(old, st) or _capability(path) != _capability(old_path):
            yield rel, CHANGE_MODIFY
        if stat.S_ISDIR(st.st_mode):
            hides_image = opaque or _is_opaque(path)
            if hides_image and stat.S_ISDIR(old.st_mode):
                present = set(_listdir(path))
                for gone in lowers.children(rel):
                    child = f"{rel}/{gone}"
                    if gone not in present and child not in INIT_LAYER_PATHS:
                        yield child, CHANGE_DELETE
            yield from _walk(upper, lowers, rel, hides_image)


def _all_added(upper: str, rel_dir: str) -> Iterator[tuple[str, int]]:
    for name in _listdir(os.path.join(upper, rel_dir)):
        rel = f"{rel_dir}/{name}"
        st = _lstat(os.path.join(upper, rel))
        if st is None or _is_whiteout(st):
            continue
        yield rel, CHANGE_ADD
        if stat.S_ISDIR(st.st_mode):
            yield from _all_added(upper, rel)


class _Lowers:
    """The image's merged tree, looked up path by path through its layer dirs (top-most first)."""

    def __init__(self, layers: tuple[str, ...]) -> None:
        self.layers = layers

    def find(self, rel: str) -> tuple[str, os.stat_result] | None:
        """The layer path and `lstat` of `rel` in the image, or None where the image has no such path."""
        parts = rel.split("/")
        for layer in self.layers:
            path = os.path.join(layer, rel)
            try:
                st = os.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                if _layer_hides_below(layer, parts):
                    return None
                continue
            return None if _is_whiteout(st) else (path, st)
        return None

    def lstat(self, rel: str) -> os.stat_result | None:
        found = self.find(rel)
        return found[1] if found else None

    def children(self, rel: str) -> list[str]:
        """Names in the image's directory `rel`, merged over the layers as overlayfs would."""
        seen: set[str] = set()
        hidden: set[str] = set()
        parts = rel.split("/")
        for layer in self.layers:
            path = os.path.join(layer, rel)
            if not os.path.isdir(path) or os.path.islink(path):
                if os.path.lexists(path) or _layer_hides_below(layer, parts):
                    break  # a file, whiteout or opaque parent here hides the layers below
                continue
            for name in _listdir(path):
                if name in seen or name in hidden:
                    continue
                if _is_whiteout(os.lstat(os.path.join(path, name))):
                    hidden.add(name)
                else:
                    seen.add(name)
            if _is_opaque(path):
                break
        return sorted(seen)


def _layer_hides_below(layer: str, parts: list[str]) -> bool:
    """Whether a missing path in `layer` is hidden in the layers below by an ancestor of it."""
    for depth in range(1, len(parts)):
        ancestor = os.path.join(layer, *parts[:depth])
        try:
            st = os.lstat(ancestor)
        except FileNotFoundError:
            return False
        except NotADirectoryError:
            return True
        if not stat.S_ISDIR(st.st_mode):
            return True  # a whiteout, file or symlink replaced the directory
        if _is_opaque(ancestor):
            return True
    return False


def _differs(old: os.stat_result, new: os.stat_result) -> bool:
    """Docker's statDifferent: a directory's size and mtime are not a measure of change."""
    if (old.st_mode, old.st_uid, old.st_gid, old.st_rdev) != (new.st_mode, new.st_uid, new.st_gid, new.st_rdev):
        return True
    if stat.S_ISDIR(old.st_mode):
        return False
    return old.st_size != new.st_size or not _same_time(old.st_mtime_ns, new.st_mtime_ns)


def _same_time(a_ns: int, b_ns: int) -> bool:
    """Equal, or the same second where one side has no sub-second part (tar loses it)."""
    a_sec, a_frac = divmod(a_ns, 10**9)
    b_sec, b_frac = divmod(b_ns, 10**9)
    return a_sec == b_sec and (a_frac == b_frac or a_frac == 0 or b_frac == 0)


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _capability(path: str) -> bytes | None:
    try:
        return os.getxattr(path, CAPABILITY_XATTR, follow_symlinks=False)
    except OSError:
        return None


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []
