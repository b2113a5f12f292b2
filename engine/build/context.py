"""The build context: the client's tar, unpacked safely, filtered by .dockerignore.

Sources of COPY/ADD are matched against it with Docker's glob rules (each path
component matched separately), and their content hash keys the layer cache, so
an unchanged file reuses its layer and a changed one rebuilds from that step.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import posixpath
import shutil
import stat
from dataclasses import dataclass
from typing import IO

from engine.build import dockerignore
from engine.errors import InvalidArgument
from engine.snapshots import tarsafe


class ContextError(InvalidArgument):
    """A COPY/ADD source that is not in the context."""


@dataclass(frozen=True)
class Source:
    rel: str  # path relative to the context root ("" for the root itself)
    path: str  # host path


class BuildContext:
    def __init__(self, root: str) -> None:
        self.root = root

    @classmethod
    def from_tar(cls, stream: IO[bytes], root: str, dockerfile: str = "Dockerfile") -> BuildContext:
        tarsafe.extract(stream, root, whiteouts="keep")
        ctx = cls(root)
        ctx.apply_dockerignore(dockerfile)
        return ctx

    def read(self, rel: str) -> str | None:
        try:
            path = tarsafe.resolve_inside(self.root, tarsafe.clean_member_name(rel), follow_last=True)
        except tarsafe.UnsafeArchive:
            return None
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def apply_dockerignore(self, dockerfile: str = "Dockerfile") -> None:
        """Leave out what .dockerignore excludes, except itself and the Dockerfile (read before they go)."""
        text = self.read(".dockerignore")
        if not text:
            return
        patterns = dockerignore.parse(text)
        keep = {".dockerignore", posixpath.normpath(dockerfile.lstrip("/"))}
        for dirpath, dirnames, filenames in os.walk(self.root, topdown=True):
            rel_dir = os.path.relpath(dirpath, self.root)
            rel_dir = "" if rel_dir == "." else rel_dir
            for name in list(dirnames) + filenames:
                rel = posixpath.join(rel_dir, name) if rel_dir else name
                if rel in keep:
                    continue
                if dockerignore.ignored(rel, patterns) and not _has_exception_below(rel, patterns):
                    full = os.path.join(dirpath, name)
                    if os.path.isdir(full) and not os.path.islink(full):
                        shutil.rmtree(full)
                        dirnames.remove(name)
                    else:
                        os.unlink(full)

    def drop_control_files(self, dockerfile: str) -> None:
        """Docker's daemon removes .dockerignore and the Dockerfile from the context when .dockerignore names them."""
        text = self.read(".dockerignore")
        if not text:
            return
        patterns = dockerignore.parse(text)
        for rel in (".dockerignore", posixpath.normpath(dockerfile.lstrip("/"))):
            if not dockerignore.ignored(rel, patterns):
                continue
            try:
                path = tarsafe.resolve_inside(self.root, tarsafe.clean_member_name(rel), follow_last=False)
            except tarsafe.UnsafeArchive:
                continue
            if os.path.lexists(path) and not os.path.isdir(path):
                os.unlink(path)

    def match(self, pattern: str) -> list[Source]:
        """Docker's COPY source matching: a path, or a glob per path component."""
        clean = posixpath.normpath(pattern.lstrip("/")) if pattern.strip("/") else "."
        if clean.startswith("../") or clean == "..":
            raise ContextError(f"forbidden path outside the build context: {pattern}")
        if clean == ".":
            return [Source("", self.root)]
        if not any(ch in clean for ch in "*?["):
            try:
                path = tarsafe.resolve_inside(self.root, clean, follow_last=False)
            except tarsafe.UnsafeArchive:
                raise ContextError(f"forbidden path outside the build context: {pattern}") from None
            if not os.path.lexists(path):
                raise ContextError(f"file not found in build context or excluded by .dockerignore: stat {clean}: file does not exist")
            return [Source(clean, path)]
        found = [""]
        for part in clean.split("/"):
            nxt = []
            for base in found:
                d = os.path.join(self.root, base)
                if not os.path.isdir(d) or os.path.islink(d):
                    continue
                for name in sorted(os.listdir(d)):
                    if fnmatch.fnmatchcase(name, part):
                        nxt.append(posixpath.join(base, name) if base else name)
            found = nxt
        if not found:
            raise ContextError(f"no source files were specified (pattern {pattern} matched nothing)")
        return [Source(rel, os.path.join(self.root, rel)) for rel in found]


def _has_exception_below(rel: str, patterns: list[dockerignore.Pattern]) -> bool:
    """An ignored directory must stay if an exception pattern names something inside it."""
    prefix = rel + "/"
    return any(p.exclusion and p.text.startswith(prefix) for p in patterns)


def content_hash(sources: list[Source], follow_root_links: bool = True) -> str:
    """A digest of names, modes, link targets and contents: the layer cache's view of a source set."""
    h = hashlib.sha256()
    for src in sources:
        root = src.path
        h.update(b"\0src\0" + src.rel.encode())
        st = os.stat(root) if follow_root_links else os.lstat(root)
        if not stat.S_ISDIR(st.st_mode):
            _hash_entry(h, "", root)
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, root)
            for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
                _hash_entry(h, os.path.join(rel_dir, name), os.path.join(dirpath, name))
            for name in dirnames:
                full = os.path.join(dirpath, name)
                if not os.path.islink(full):
                    h.update(f"\0dir\0{os.path.join(rel_dir, name)}\0{stat.S_IMODE(os.lstat(full).st_mode):o}".encode())
    return h.hexdigest()


def _hash_entry(h: hashlib._Hash, rel: str, path: str) -> None:
    st = os.lstat(path)
    h.update(f"\0{rel}\0{stat.S_IFMT(st.st_mode)}\0{stat.S_IMODE(st.st_mode):o}\0".encode())
    if stat.S_ISLNK(st.st_mode):
        h.update(os.readlink(path).encode())
    elif stat.S_ISREG(st.st_mode):
        with open(path, "rb") as f:
            while True:
                block = f.read(1 << 20)
                if not block:
                    break
                h.update(block)
