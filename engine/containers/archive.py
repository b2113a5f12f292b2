"""A container's files as `docker cp` sees them: path resolution, stat, tar out, tar in.

A `ContainerView` is the container's root directory on the host (its mounted
rootfs) plus its mount table (volumes, bind mounts, the /etc files the engine
writes), so a path inside the container maps to a host path the way it would
inside the container, without entering its namespaces. Symlinks are resolved
chroot-style inside the view: `..` and absolute targets never leave the
container's root. The shapes follow Docker's archive endpoints
(`daemon/archive.go`): the stat is Go's `os.FileMode` bits, the tar is the
resource with its base name as the top entry.
"""

from __future__ import annotations

import base64
import json
import os
import posixpath
import stat
import tarfile
from dataclasses import dataclass
from typing import IO, Any

from engine.errors import InvalidArgument, NotFound
from engine.snapshots import tarsafe
from engine.util.timefmt import rfc3339

_MAX_SYMLINK_HOPS = 40

# Go's os.FileMode type bits (io/fs): what clients decode from the stat header.
GO_MODE_DIR = 1 << 31
GO_MODE_SYMLINK = 1 << 27
GO_MODE_DEVICE = 1 << 26
GO_MODE_NAMED_PIPE = 1 << 25
GO_MODE_SOCKET = 1 << 24
GO_MODE_SETUID = 1 << 23
GO_MODE_SETGID = 1 << 22
GO_MODE_CHAR_DEVICE = 1 << 21
GO_MODE_STICKY = 1 << 20


class ExtractPointNotDirectory(InvalidArgument):
    """PUT /archive at a path that is not a directory (Docker answers 500 for it)."""

    status = 500


def go_file_mode(st_mode: int) -> int:
    """A POSIX st_mode as Go's os.FileMode (type bits high, permission bits low)."""
    mode = stat.S_IMODE(st_mode) & 0o777
    if stat.S_ISDIR(st_mode):
        mode |= GO_MODE_DIR
    elif stat.S_ISLNK(st_mode):
        mode |= GO_MODE_SYMLINK
    elif stat.S_ISFIFO(st_mode):
        mode |= GO_MODE_NAMED_PIPE
    elif stat.S_ISSOCK(st_mode):
        mode |= GO_MODE_SOCKET
    elif stat.S_ISCHR(st_mode):
        mode |= GO_MODE_DEVICE | GO_MODE_CHAR_DEVICE
    elif stat.S_ISBLK(st_mode):
        mode |= GO_MODE_DEVICE
    if st_mode & stat.S_ISUID:
        mode |= GO_MODE_SETUID
    if st_mode & stat.S_ISGID:
        mode |= GO_MODE_SETGID
    if st_mode & stat.S_ISVTX:
        mode |= GO_MODE_STICKY
    return mode


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p and p != "."]


@dataclass(frozen=True)
class ContainerView:
    """The container's filesystem seen from the host: `root` plus (destination, host source) mounts."""

    root: str
    mounts: tuple[tuple[str, str], ...] = ()

    def host(self, cpath: str) -> str:
        """The host path of a clean absolute container path (no symlinks followed)."""
        cpath = "/" + "/".join(_parts(cpath))
        best = ("", self.root)
        for dest, source in self.mounts:
            if (cpath == dest or cpath.startswith(dest.rstrip("/") + "/")) and len(dest) > len(best[0]):
                best = (dest, source)
        dest, base = best
        rest = cpath[len(dest):] if dest else cpath
        return base.rstrip("/") + rest if rest.strip("/") else base

    def resolve(self, path: str, follow_last: bool = True) -> str:
        """The container path `path` names, symlinks followed inside the container (the last one if asked)."""
        pending = _parts(path)
        resolved: list[str] = []
        hops = 0
        while pending:
            part = pending.pop(0)
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = "/" + "/".join([*resolved, part])
            host = self.host(candidate)
            if (pending or follow_last) and os.path.islink(host):
                hops += 1
                if hops > _MAX_SYMLINK_HOPS:
                    raise InvalidArgument(f"too many levels of symbolic links: {path}")
                target = os.readlink(host)
                if target.startswith("/"):
                    resolved = []
                pending = _parts(target) + pending
                continue
            resolved.append(part)
        return "/" + "/".join(resolved)


def absolute(path: str) -> str:
    """The client's path as an absolute container path, keeping a trailing '/' or '/.' (they mean 'contents')."""
    if not path:
        raise InvalidArgument("bad parameter: pathcannot be empty")  # sic: Docker's message
    clean = posixpath.normpath("/" + path)
    if path.endswith("/.") or path == ".":
        return clean.rstrip("/") + "/."
    if path.endswith("/") and clean != "/":
        return clean + "/"
    return clean


def resource_path(view: ContainerView, path: str, container: str) -> tuple[str, str]:
    """(resolved container path, absolute client path) as Docker's ResolvePath: the last element is not followed."""
    abs_path = absolute(path)
    directory, base = posixpath.split(abs_path)
    resolved_dir = view.resolve(directory)
    resolved = resolved_dir if base in ("", ".") else posixpath.join(resolved_dir, base)
    if not os.path.lexists(view.host(resolved)):
        raise NotFound(f"Could not find the file {path} in container {container}")
    return resolved, abs_path


def path_stat(view: ContainerView, resolved: str, abs_path: str) -> dict[str, Any]:
    """Docker's ContainerPathStat of `resolved`, named after the client's path."""
    host = view.host(resolved)
    st = os.lstat(host)
    link_target = ""
    if stat.S_ISLNK(st.st_mode):
        link_target = view.resolve(resolved, follow_last=True)
    name = posixpath.basename(abs_path.rstrip("/")) if abs_path.rstrip("/") else "/"
    if abs_path.endswith("/."):
        name = "."
    return {"name": name, "size": st.st_size, "mode": go_file_mode(st.st_mode),
            "mtime": rfc3339(st.st_mtime_ns), "linkTarget": link_target}


def stat_header(doc: dict[str, Any]) -> str:
    """The X-Docker-Container-Path-Stat header value: base64 of the JSON stat."""
    return base64.b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()


def write_tar(view: ContainerView, resolved: str, top_name: str, out: IO[bytes]) -> None:
    """Write the tar of `resolved` to `out`, its top entry named `top_name`, walking through mounts."""
    inodes: dict[tuple[int, int], str] = {}
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, view, resolved, top_name, inodes)


def _add(tar: tarfile.TarFile, view: ContainerView, cpath: str, name: str, inodes: dict[tuple[int, int], str]) -> None:
    host = view.host(cpath)
    try:
        st = os.lstat(host)
    except FileNotFoundError:
        return
    info = _tar_info(host, name, st)
    if stat.S_ISREG(st.st_mode):
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in inodes:
            info.type, info.linkname, info.size = tarfile.LNKTYPE, inodes[key], 0
            tar.addfile(info)
            return
        inodes[key] = name
        with open(host, "rb") as f:
            tar.addfile(info, f)
        return
    if name:  # the unnamed root (export) has no entry of its own
        tar.addfile(info)
    if stat.S_ISDIR(st.st_mode):
        for child in sorted(os.listdir(host)):
            _add(tar, view, posixpath.join(cpath, child), posixpath.join(name, child), inodes)


def _tar_info(host: str, name: str, st: os.stat_result) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name + "/" if stat.S_ISDIR(st.st_mode) and not name.endswith("/") else name)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.mtime = int(st.st_mtime)
    if stat.S_ISREG(st.st_mode):
        info.size = st.st_size
    elif stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(st.st_mode):
        info.type, info.linkname = tarfile.SYMTYPE, os.readlink(host)
    elif stat.S_ISFIFO(st.st_mode):
        info.type = tarfile.FIFOTYPE
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    return info


def extraction_dir(view: ContainerView, path: str, container: str) -> str:
    """The host directory a PUT /archive extracts into: `path` fully resolved, existing, a directory."""
    resolved = view.resolve(absolute(path))
    host = view.host(resolved)
    if not os.path.lexists(host):
        raise NotFound(f"Could not find the file {path} in container {container}")
    if not os.path.isdir(host):
        raise ExtractPointNotDirectory("extraction point is not a directory")
    return host


def extract(stream: IO[bytes], host_dir: str) -> None:
    """Unpack a client's tar into `host_dir` (safely: nothing lands outside it)."""
    tarsafe.extract(stream, host_dir, whiteouts="keep")
