"""The privileged part of snapshots: mount(2) and umount2(2) through libc.

Callers compute `Mount` values (what to mount where, with which options) and this
module is the only place that performs them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from dataclasses import dataclass

from engine.errors import SystemFault

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
PAGE_LIMIT = 4096


@dataclass(frozen=True)
class Mount:
    """One mount to perform: `mount -t type source target -o options`."""

    type: str
    source: str
    target: str
    options: str = ""
    flags: int = 0


def mount(m: Mount) -> None:
    if len(m.options) >= PAGE_LIMIT:
        raise SystemFault(f"mount options for {m.target} exceed one page ({len(m.options)} bytes): too many layers")
    rc = _libc.mount(m.source.encode(), m.target.encode(), m.type.encode(), m.flags, m.options.encode() or None)
    if rc != 0:
        err = ctypes.get_errno()
        raise SystemFault(f"mount {m.type} on {m.target}: {os.strerror(err)}")


def unmount(target: str, detach: bool = False) -> bool:
    """Unmount `target`; returns False if nothing was mounted there."""
    rc = _libc.umount2(target.encode(), MNT_DETACH if detach else 0)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOENT):
        return False
    if err == errno.EBUSY and not detach:
        return unmount(target, detach=True)
    raise SystemFault(f"umount {target}: {os.strerror(err)}")


def is_mounted(target: str) -> bool:
    real = os.path.realpath(target)
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.split(" ")
            if len(fields) > 4 and _unescape(fields[4]) == real:
                return True
    return False


def mounts_under(prefix: str) -> list[str]:
    """Mount points at or below `prefix`, deepest first (for cleanup)."""
    real = os.path.realpath(prefix)
    found: list[str] = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.split(" ")
            if len(fields) > 4:
                point = _unescape(fields[4])
                if point == real or point.startswith(real.rstrip("/") + "/"):
                    found.append(point)
    return sorted(set(found), key=len, reverse=True)


def _unescape(text: str) -> str:
    return text.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")
