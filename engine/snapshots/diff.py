"""Turning an overlayfs upper directory into an image layer.

An upper dir already has the layout of a layer's diff (overlay whiteouts:
0/0 character devices, and `trusted.overlay.opaque` on opaque directories);
`write_layer_tar` writes the OCI tar for it (whiteouts as `.wh.` entries),
deterministically ordered, so the layer can be saved, pushed and hashed.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from typing import IO

from engine.snapshots.tarsafe import OPAQUE_MARKER, WHITEOUT_PREFIX

_SKIP_XATTR_PREFIX = "trusted.overlay."


def _info(path: str, name: str, st: os.stat_result) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.mtime = int(st.st_mtime)
    info.uname = info.gname = ""
    xattrs = {}
    try:
        for key in os.listxattr(path, follow_symlinks=False):
            if key.startswith(_SKIP_XATTR_PREFIX):
                continue
            try:
                xattrs["SCHILY.xattr." + key] = os.getxattr(path, key, follow_symlinks=False).decode("utf-8", "surrogateescape")
            except OSError:
                continue
    except OSError:
        pass
    if xattrs:
        info.pax_headers = xattrs
    return info


def write_layer_tar(upper: str, out: IO[bytes], skip: frozenset[str] = frozenset()) -> None:
    """Write the layer tar of an overlay upper dir to `out`, leaving out the relative paths in `skip`."""
    inodes: dict[tuple[int, int], str] = {}
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(upper):
            rel_dir = os.path.relpath(dirpath, upper)
            dirnames[:] = sorted(d for d in dirnames if os.path.normpath(os.path.join(rel_dir, d)) not in skip)
            filenames = [f for f in filenames if os.path.normpath(os.path.join(rel_dir, f)) not in skip]
            prefix = "" if rel_dir == "." else rel_dir + "/"
            if prefix:
                st = os.lstat(dirpath)
                dir_info = _info(dirpath, prefix, st)
                dir_info.type = tarfile.DIRTYPE
                tar.addfile(dir_info)
                try:
                    opaque = os.getxattr(dirpath, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
                except OSError:
                    opaque = False
                if opaque:
                    marker = tarfile.TarInfo(prefix + OPAQUE_MARKER)
                    marker.mtime = int(st.st_mtime)
                    tar.addfile(marker)
            entries = sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))])
            for name in entries:
                path = os.path.join(dirpath, name)
                st = os.lstat(path)
                arcname = prefix + name
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                    wh = tarfile.TarInfo(prefix + WHITEOUT_PREFIX + name)
                    wh.mtime = int(st.st_mtime)
                    tar.addfile(wh)
                    continue
                info = _info(path, arcname, st)
                if stat.S_ISLNK(st.st_mode):
                    info.type = tarfile.SYMTYPE
                    info.linkname = os.readlink(path)
                    tar.addfile(info)
                elif stat.S_ISREG(st.st_mode):
                    key = (st.st_dev, st.st_ino)
                    if st.st_nlink > 1 and key in inodes:
                        info.type = tarfile.LNKTYPE
                        info.linkname = inodes[key]
                        tar.addfile(info)
                        continue
                    inodes[key] = arcname
                    info.size = st.st_size
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                    info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
                    info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
                    tar.addfile(info)
                elif stat.S_ISFIFO(st.st_mode):
                    info.type = tarfile.FIFOTYPE
                    tar.addfile(info)
            dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]


class _HashingWriter(io.RawIOBase):
    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.digest = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.digest.update(data)
        self.out.write(data)
        return len(data)


def tar_upper(upper: str, tar_path: str, skip: frozenset[str] = frozenset()) -> str:
    """Write the layer tar of `upper` to `tar_path` (without `skip`); returns its diff ID."""
    with open(tar_path, "wb") as f:
        writer = _HashingWriter(f)
        write_layer_tar(upper, writer, skip)  # type: ignore[arg-type]
    return "sha256:" + writer.digest.hexdigest()
