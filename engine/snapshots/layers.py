"""The layer store: each image layer unpacked once, shared by every image and container.

A layer is identified by its chain ID (OCI: the digest of its diff ID stacked on
its parent's chain ID). On disk, under `<root>/layers/<chain hex>/`:

    diff/       the unpacked content, whiteouts as overlayfs expects them
    layer.tar   the uncompressed layer tar exactly as received (its sha256 is the diff ID)
    meta.json   {"diff_id", "parent", "size", "link"}

`<root>/l/<link>` is a short symlink to `diff/` so that overlay mount options with
many lower layers stay under one page. A layer directory appears by one atomic
rename once complete, so a crash never leaves a half-written layer visible.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import lzma
import os
import secrets
import shutil
import stat
import string
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import IO

from engine.errors import InvalidArgument, NotFound
from engine.snapshots import tarsafe
from engine.util.fs import atomic_write_json

_LINK_ALPHABET = string.ascii_uppercase + string.digits


def chain_id(parent: str | None, diff_id: str) -> str:
    if not parent:
        return diff_id
    return "sha256:" + hashlib.sha256(f"{parent} {diff_id}".encode()).hexdigest()


def chain_ids(diff_ids: Iterable[str]) -> list[str]:
    out: list[str] = []
    parent: str | None = None
    for diff_id in diff_ids:
        parent = chain_id(parent, diff_id)
        out.append(parent)
    return out


@dataclass(frozen=True)
class Layer:
    chain_id: str
    diff_id: str
    parent: str | None
    size: int
    link: str
    path: str

    @property
    def diff(self) -> str:
        return os.path.join(self.path, "diff")

    @property
    def tar(self) -> str:
        return os.path.join(self.path, "layer.tar")


class _Decompressing:
    """A file-like reader that undoes gzip, bzip2 or xz if the stream starts with their magic."""

    def __init__(self, raw: IO[bytes]) -> None:
        head = raw.read(6)
        inner: IO[bytes] = _Prefixed(head, raw)
        if head.startswith(b"\x1f\x8b"):
            inner = gzip.GzipFile(fileobj=inner, mode="rb")  # type: ignore[assignment]
        elif head.startswith(b"BZh"):
            inner = bz2.BZ2File(inner)  # type: ignore[assignment]
        elif head.startswith(b"\xfd7zXZ\x00"):
            inner = lzma.LZMAFile(inner)  # type: ignore[assignment]
        elif head.startswith(b"\x28\xb5\x2f\xfd"):
            import zstandard

            inner = zstandard.ZstdDecompressor().stream_reader(inner)  # type: ignore[assignment]
        self.inner = inner

    def read(self, n: int = -1) -> bytes:
        try:
            return self.inner.read(n)
        except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
            raise InvalidArgument(f"invalid compressed archive: {exc}") from None


class _Prefixed:
    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self.head = head
        self.rest = rest

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n < 0:
                data, self.head = self.head + self.rest.read(), b""
                return data
            data, self.head = self.head[:n], self.head[n:]
            if len(data) < n:
                data += self.rest.read(n - len(data))
            return data
        return self.rest.read(n)


class LayerStore:
    def __init__(self, root: str) -> None:
        self.root = root
        self.layers_dir = os.path.join(root, "layers")
        self.links_dir = os.path.join(root, "l")
        self.tmp_dir = os.path.join(root, "tmp")
        for d in (self.layers_dir, self.links_dir, self.tmp_dir):
            os.makedirs(d, exist_ok=True)

    def _dir(self, chain: str) -> str:
        return os.path.join(self.layers_dir, chain.removeprefix("sha256:"))

    def get(self, chain: str) -> Layer:
        path = self._dir(chain)
        try:
            with open(os.path.join(path, "meta.json"), encoding="utf-8") as f:
                meta = json.load(f)
        except FileNotFoundError:
            raise NotFound(f"layer {chain} does not exist") from None
        return Layer(chain, meta["diff_id"], meta.get("parent"), meta.get("size", 0), meta["link"], path)

    def exists(self, chain: str) -> bool:
        return os.path.exists(os.path.join(self._dir(chain), "meta.json"))

    def all_chain_ids(self) -> list[str]:
        return ["sha256:" + d for d in os.listdir(self.layers_dir) if not d.startswith(".")]

    def link_path(self, layer: Layer) -> str:
        return os.path.join(self.links_dir, layer.link)

    # -- creating layers -------------------------------------------------------
    def add_from_stream(self, parent: str | None, stream: IO[bytes], expected_diff_id: str | None = None) -> Layer:
        """Store a (possibly compressed) layer tar on top of `parent` and unpack it once."""
        work = os.path.join(self.tmp_dir, "layer-" + secrets.token_hex(8))
        os.makedirs(work)
        try:
            digest = hashlib.sha256()
            tar_path = os.path.join(work, "layer.tar")
            reader = _Decompressing(stream)
            with open(tar_path, "wb") as out:
                while True:
                    block = reader.read(1 << 20)
                    if not block:
                        break
                    digest.update(block)
                    out.write(block)
            diff_id = "sha256:" + digest.hexdigest()
            if expected_diff_id and expected_diff_id != diff_id:
                raise InvalidArgument(f"layer content does not match its diff ID: expected {expected_diff_id}, got {diff_id}")
            return self._commit(parent, diff_id, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def add_from_tar_file(self, parent: str | None, tar_path: str, diff_id: str | None = None) -> Layer:
        """Store an uncompressed layer tar that is already on disk (it is moved, not copied)."""
        work = os.path.join(self.tmp_dir, "layer-" + secrets.token_hex(8))
        os.makedirs(work)
        try:
            if diff_id is None:
                diff_id = "sha256:" + _file_sha256(tar_path)
            os.rename(tar_path, os.path.join(work, "layer.tar"))
            return self._commit(parent, diff_id, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def add_from_dir(self, parent: str | None, upper: str) -> Layer:
        """Store an overlay upper dir as a layer: its tar is written, the dir itself becomes the diff."""
        from engine.snapshots.diff import tar_upper

        work = os.path.join(self.tmp_dir, "layer-" + secrets.token_hex(8))
        os.makedirs(work)
        try:
            diff_id = tar_upper(upper, os.path.join(work, "layer.tar"))
            chain = chain_id(parent, diff_id)
            if self.exists(chain):
                return self.get(chain)
            os.rename(upper, os.path.join(work, "diff"))
            size = 0
            for dirpath, _dirs, files in os.walk(os.path.join(work, "diff")):
                for name in files:
                    try:
                        st = os.lstat(os.path.join(dirpath, name))
                    except OSError:
                        continue
                    if stat.S_ISREG(st.st_mode):
                        size += st.st_size
            link = self._new_link(diff_target=os.path.join(self._dir(chain), "diff"))
            atomic_write_json(os.path.join(work, "meta.json"), {"diff_id": diff_id, "parent": parent, "size": size, "link": link})
            try:
                os.rename(work, self._dir(chain))
            except OSError:
                if self.exists(chain):
                    os.unlink(os.path.join(self.links_dir, link))
                    return self.get(chain)
                raise
            return self.get(chain)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _commit(self, parent: str | None, diff_id: str, work: str) -> Layer:
        chain = chain_id(parent, diff_id)
        if self.exists(chain):
            return self.get(chain)
        diff = os.path.join(work, "diff")
        with open(os.path.join(work, "layer.tar"), "rb") as tar:
            size = tarsafe.extract(tar, diff, whiteouts="overlay")
        link = self._new_link(diff_target=os.path.join(self._dir(chain), "diff"))
        atomic_write_json(os.path.join(work, "meta.json"), {"diff_id": diff_id, "parent": parent, "size": size, "link": link})
        try:
            os.rename(work, self._dir(chain))
        except OSError:
            if self.exists(chain):  # another request stored it first
                os.unlink(os.path.join(self.links_dir, link))
                return self.get(chain)
            raise
        return self.get(chain)

    def _new_link(self, diff_target: str) -> str:
        while True:
            link = "".join(secrets.choice(_LINK_ALPHABET) for _ in range(26))
            try:
                os.symlink(os.path.relpath(diff_target, self.links_dir), os.path.join(self.links_dir, link))
                return link
            except FileExistsError:
                continue

    async def add_from_chunks(self, parent: str | None, chunks: AsyncIterator[bytes]) -> Layer:
        """Spool an async byte stream to disk, then store it (used by import)."""
        import asyncio

        spool = os.path.join(self.tmp_dir, "spool-" + secrets.token_hex(8))
        try:
            with open(spool, "wb") as out:
                async for chunk in chunks:
                    out.write(chunk)
            def work() -> Layer:
                with open(spool, "rb") as f:
                    return self.add_from_stream(parent, f)
            return await asyncio.to_thread(work)
        finally:
            if os.path.exists(spool):
                os.unlink(spool)

    # -- compressed blobs (for registries) ---------------------------------------
    def keep_compressed(self, layer: Layer, path: str, digest: str, size: int) -> None:
        """Keep the gzip blob a layer was pulled as, so pushing it again sends the same digest."""
        target = os.path.join(layer.path, "layer.tar.gz")
        os.replace(path, target)
        atomic_write_json(os.path.join(layer.path, "blob.json"), {"digest": digest, "size": size})

    def compressed(self, layer: Layer) -> tuple[str, str, int]:
        """The layer's gzip blob (path, digest, size), made once and kept."""
        target = os.path.join(layer.path, "layer.tar.gz")
        meta_path = os.path.join(layer.path, "blob.json")
        try:
            with open(meta_path, encoding="utf-8") as f:
                meta = json.load(f)
            if os.path.exists(target):
                return target, meta["digest"], int(meta["size"])
        except (FileNotFoundError, ValueError, KeyError):
            pass
        tmp = target + ".tmp-" + secrets.token_hex(4)
        digest = hashlib.sha256()
        size = 0
        with open(layer.tar, "rb") as src, open(tmp, "wb") as raw:
            class _Tee:
                def write(self, data: bytes) -> int:
                    nonlocal size
                    digest.update(data)
                    size += len(data)
                    return raw.write(data)

                def flush(self) -> None:
                    raw.flush()

            with gzip.GzipFile(fileobj=_Tee(), mode="wb", mtime=0) as gz:  # type: ignore[arg-type]
                while True:
                    block = src.read(1 << 20)
                    if not block:
                        break
                    gz.write(block)
        os.replace(tmp, target)
        result = ("sha256:" + digest.hexdigest(), size)
        atomic_write_json(meta_path, {"digest": result[0], "size": result[1]})
        return target, result[0], result[1]

    # -- removing layers -------------------------------------------------------
    def remove(self, chain: str) -> None:
        try:
            layer = self.get(chain)
        except NotFound:
            return
        gone = os.path.join(self.tmp_dir, "gone-" + secrets.token_hex(8))
        os.rename(layer.path, gone)
        try:
            os.unlink(os.path.join(self.links_dir, layer.link))
        except FileNotFoundError:
            pass
        shutil.rmtree(gone, ignore_errors=True)

    def clean_tmp(self) -> None:
        """At start: whatever an interrupted import, load or build left (mounts first)."""
        from engine.util import mounts

        for point in mounts.mounts_under(self.tmp_dir):
            mounts.unmount(point, detach=True)
        for entry in os.listdir(self.tmp_dir):
            shutil.rmtree(os.path.join(self.tmp_dir, entry), ignore_errors=True)


def _file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 20)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()
