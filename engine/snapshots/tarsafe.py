"""Safe tar extraction into a directory, with OCI whiteouts turned into overlayfs ones.

Refused with `InvalidArgument` (and nothing outside the target is touched):
absolute names, names with `..` components, hard links to outside the archive's
root, and any entry whose path would pass through a symlink that leads outside
the target. Symlinks themselves may point anywhere: they are resolved inside the
container at run time, as in Docker.

Whiteouts (`.wh.NAME`) become 0/0 character devices and opaque markers
(`.wh..wh..opq`) become the `trusted.overlay.opaque` xattr, which is what
overlayfs reads when the directory is a lower layer.
"""

from __future__ import annotations

import errno
import os
import stat
import tarfile
from collections.abc import Iterator
from typing import IO

from engine.errors import InvalidArgument

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
_MAX_SYMLINK_HOPS = 40


class UnsafeArchive(InvalidArgument):
    """The archive tries to write outside its target or is not a valid tar."""


def clean_member_name(name: str) -> str:
    """Validate and normalise a member name to a relative path ('' for the root)."""
    if "\x00" in name:
        raise UnsafeArchive(f"invalid archive entry name {name!r}")
    if name.startswith("/"):
        raise UnsafeArchive(f"archive entry {name!r} has an absolute path")
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise UnsafeArchive(f"archive entry {name!r} escapes the target with '..'")
        parts.append(part)
    return "/".join(parts)


def resolve_inside(root: str, rel: str, follow_last: bool = False) -> str:
    """The host path of `rel` under `root`, following symlinks chroot-style.

    Raises `UnsafeArchive` if a symlink on the way points outside `root`.
    """
    parts = [p for p in rel.split("/") if p]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            if not resolved:
                raise UnsafeArchive(f"path {rel!r} escapes the target through a symlink")
            resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        is_last = not parts
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            resolved.append(part)
            continue
        if stat.S_ISLNK(st.st_mode) and (not is_last or follow_last):
            hops += 1
            if hops > _MAX_SYMLINK_HOPS:
                raise UnsafeArchive(f"too many levels of symbolic links in {rel!r}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []  # absolute links resolve from the target's root, as in a chroot
            parts = [p for p in target.split("/") if p] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def _remove_existing(path: str, keep_dir: bool) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        if keep_dir:
            return
        import shutil

        shutil.rmtree(path)
    else:
        os.unlink(path)


def _apply_metadata(path: str, member: tarfile.TarInfo, is_link: bool = False) -> None:
    os.lchown(path, member.uid, member.gid)
    if not is_link:
        os.chmod(path, member.mode & 0o7777)
    for key, value in (member.pax_headers or {}).items():
        if key.startswith("SCHILY.xattr."):
            try:
                os.setxattr(path, key[len("SCHILY.xattr."):], value.encode("utf-8", "surrogateescape"), follow_symlinks=False)
            except OSError:
                pass
    try:
        os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
    except OSError:
        pass


def iter_members(stream: IO[bytes]) -> Iterator[tuple[tarfile.TarInfo, tarfile.TarFile]]:
    """Members of a tar stream read once, front to back (compression detected)."""
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as tar:
            for member in tar:
                yield member, tar
    except tarfile.ReadError as exc:
        raise UnsafeArchive(f"invalid tar archive: {exc}") from None
    except EOFError:
        raise UnsafeArchive("invalid tar archive: unexpected end of data") from None


def extract(stream: IO[bytes], target: str, whiteouts: str = "overlay") -> int:
    """Extract a tar stream into `target`. Returns the size of the unpacked content.

    `whiteouts`: "overlay" turns OCI whiteouts into overlayfs ones (image layers);
    "apply" deletes what they name (flattening into one directory);
    "keep" writes them as ordinary files.
    """
    os.makedirs(target, exist_ok=True)
    dirs: list[tuple[str, tarfile.TarInfo]] = []
    size = 0
    for member, tar in iter_members(stream):
        rel = clean_member_name(member.name)
        if not rel:
            if member.isdir():
                dirs.append((target, member))
            continue
        parent_rel, _, base = rel.rpartition("/")
        parent = resolve_inside(target, parent_rel, follow_last=True) if parent_rel else target
        if not os.path.isdir(parent):
            os.makedirs(parent, exist_ok=True)
        path = os.path.join(parent, base)

        if whiteouts != "keep" and base.startswith(WHITEOUT_PREFIX):
            if base == OPAQUE_MARKER:
                if whiteouts == "overlay":
                    os.setxattr(parent, "trusted.overlay.opaque", b"y")
                else:
                    for entry in os.listdir(parent):
                        _remove_existing(os.path.join(parent, entry), keep_dir=False)
                continue
            hidden = os.path.join(parent, base[len(WHITEOUT_PREFIX):])
            _remove_existing(hidden, keep_dir=False)
            if whiteouts == "overlay":
                os.mknod(hidden, stat.S_IFCHR | 0o000, os.makedev(0, 0))
            continue

        if member.isdir():
            _remove_existing(path, keep_dir=True)
            os.makedirs(path, exist_ok=True)
            dirs.append((path, member))
            continue
        _remove_existing(path, keep_dir=False)
        if member.isreg():
            src = tar.extractfile(member)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as out:
                assert src is not None
                while True:
                    block = src.read(1 << 20)
                    if not block:
                        break
                    out.write(block)
            size += member.size
            _apply_metadata(path, member)
        elif member.issym():
            os.symlink(member.linkname, path)
            _apply_metadata(path, member, is_link=True)
        elif member.islnk():
            link_rel = clean_member_name(member.linkname)
            if not link_rel:
                raise UnsafeArchive(f"hard link {member.name!r} points at the archive root")
            source = resolve_inside(target, link_rel)
            if not os.path.lexists(source):
                raise UnsafeArchive(f"hard link {member.name!r} points at {member.linkname!r}, which is not in the archive")
            os.link(source, path, follow_symlinks=False)
        elif member.ischr() or member.isblk() or member.isfifo():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK if member.isblk() else stat.S_IFIFO
            try:
                os.mknod(path, kind | (member.mode & 0o7777), os.makedev(member.devmajor, member.devminor))
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.EINVAL):
                    raise
                continue
            _apply_metadata(path, member)
        else:
            raise UnsafeArchive(f"archive entry {member.name!r} has an unsupported type")
    for path, member in reversed(dirs):
        _apply_metadata(path, member)
    return size
