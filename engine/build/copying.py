"""COPY and ADD into a mounted rootfs, with Docker's destination rules.

The destination is resolved inside the rootfs (a symlink in the image can never
lead outside it). A trailing `/`, several sources or an existing directory make
the destination a directory; a source directory contributes its contents; ADD
unpacks local tar archives (plain, gzip, bzip2, xz). Copied files keep their
modes and times and belong to root, or to `--chown`.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat

from engine.build.context import Source
from engine.snapshots import tarsafe

ARCHIVE_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


def _is_archive(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return False
    if any(head.startswith(m) for m in ARCHIVE_MAGIC):
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"


def _resolve(rootfs: str, path: str) -> str:
    return tarsafe.resolve_inside(rootfs, path.lstrip("/"), follow_last=True)


def _makedirs(rootfs: str, path: str, owner: tuple[int, int] | None) -> str:
    """mkdir -p inside the rootfs; returns the host path."""
    parts = [p for p in path.split("/") if p]
    current = "/"
    for part in parts:
        current = posixpath.join(current, part)
        host = _resolve(rootfs, current)
        if not os.path.isdir(host):
            if os.path.lexists(host):
                os.unlink(host)
            os.mkdir(host, 0o755)
            if owner is not None:
                os.lchown(host, *owner)
    return _resolve(rootfs, path)


def _copy_entry(src: str, dst: str, owner: tuple[int, int]) -> None:
    st = os.lstat(src)
    if os.path.lexists(dst) and not (stat.S_ISDIR(st.st_mode) and os.path.isdir(dst) and not os.path.islink(dst)):
        if os.path.isdir(dst) and not os.path.islink(dst):
            shutil.rmtree(dst)
        else:
            os.unlink(dst)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISDIR(st.st_mode):
        if not os.path.isdir(dst):
            os.mkdir(dst)
        os.chmod(dst, stat.S_IMODE(st.st_mode))
    elif stat.S_ISREG(st.st_mode):
        shutil.copyfile(src, dst, follow_symlinks=False)
        os.chmod(dst, stat.S_IMODE(st.st_mode))
    else:
        return  # devices, sockets and fifos in a build context are skipped
    os.lchown(dst, *owner)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _copy_tree(src: str, dst_dir: str, owner: tuple[int, int]) -> None:
    for dirpath, dirnames, filenames in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        target_dir = dst_dir if rel == "." else os.path.join(dst_dir, rel)
        for name in sorted(dirnames):
            _copy_entry(os.path.join(dirpath, name), os.path.join(target_dir, name), owner)
        for name in sorted(filenames):
            _copy_entry(os.path.join(dirpath, name), os.path.join(target_dir, name), owner)
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    st = os.stat(src)
    os.chmod(dst_dir, stat.S_IMODE(st.st_mode))


def copy_into(rootfs: str, sources: list[Source], dest: str, workdir: str, owner: tuple[int, int] | None,
              unpack_archives: bool) -> None:
    if not dest.startswith("/"):
        dest = posixpath.join(workdir or "/", dest)
    dir_dest = dest.endswith("/") or len(sources) > 1
    dest = posixpath.normpath(dest)
    if not dir_dest:
        try:
            dir_dest = os.path.isdir(_resolve(rootfs, dest))
        except tarsafe.UnsafeArchive:
            dir_dest = False
    who = owner or (0, 0)
    for src in sources:
        st = os.stat(src.path) if not os.path.islink(src.path) else os.lstat(src.path)
        if stat.S_ISDIR(st.st_mode):
            target = _makedirs(rootfs, dest, owner)
            _copy_tree(src.path, target, who)
            if owner is not None:
                os.lchown(target, *owner)
            continue
        if unpack_archives and stat.S_ISREG(st.st_mode) and _is_archive(src.path):
            target = _makedirs(rootfs, dest, owner)
            with open(src.path, "rb") as f:
                tarsafe.extract(f, target, whiteouts="apply")
            continue
        if dir_dest:
            parent = _makedirs(rootfs, dest, owner)
            target = os.path.join(parent, posixpath.basename(src.rel) or "context")
        else:
            parent_path = posixpath.dirname(dest) or "/"
            parent = _makedirs(rootfs, parent_path, None)
            target = os.path.join(parent, posixpath.basename(dest))
        _copy_entry(src.path, target, who)

