"""The layer store: each image layer unpacked once, shared by every image and container.

A layer is identified by its chain ID (OCI: the digest of its diff ID stacked on
its parent's chain ID). On disk, under `<root>/layers/<chain hex>/`:

    diff/          the unpacked content, whiteouts as overlayfs expects them
    meta.json      {"diff_id", "parent", "size", "link", "tar_size"}
    and exactly one archive form of the layer, from which `open_tar` reads the
    uncompressed layer tar (whose sha256 is the diff ID):
    layer.tar.gz   the gzip blob a registry gave us (pull), or that we made for a push,
                   with blob.json {"digest", "size"}; it decompresses to the exact tar
    layer.tar      the uncompressed tar, for layers that never had a gzip blob
                   (import, load, build commits, bootstrap)

Which form, and when it changes: a pull keeps the verified registry blob as
layer.tar.gz and never writes layer.tar. Every other way in keeps layer.tar.
The first push of such a layer (`compressed`) writes layer.tar.gz and
blob.json, then drops layer.tar, so a pushed layer sends the same digest every
time and still has one archive form. Stores written before this rule may hold
both; readers accept that, and `clean_tmp` drops the redundant layer.tar at start.

Adding a layer is one pass over its bytes: the (decompressing) stream is hashed
and extracted by `tarsafe` into a private work dir under `<root>/tmp/`; only if
the diff ID matches is the work dir renamed into place, so a crash or a bad
layer never leaves a half-written layer visible. Adds of different chains run
concurrently; two adds of the same chain both unpack, the first rename wins and
the other returns the winner's layer.

`<root>/l/<link>` is a short symlink to `diff/` so that overlay mount options with
many lower layers stay under one page.
"""

from __future__ import annotations

import collections
import contextlib
import gzip
import hashlib
import json
import os
import secrets
import shutil
import stat
import string
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from engine.errors import InvalidArgument, NotFound
from engine.snapshots import tarsafe
from engine.snapshots.streams import (
    BLOCK,
    Decompressing,
    HashingReader,
    LayerTar,
    compression_of,
    write_gzip,
)
from engine.util.fs import atomic_write_json

_LINK_ALPHABET = string.ascii_uppercase + string.digits
TAR = "layer.tar"
GZIP_BLOB = "layer.tar.gz"
BLOB_META = "blob.json"
META = "meta.json"


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
    tar_size: int | None = None  # None for layers stored before it was recorded

    @property
    def diff(self) -> str:
        return os.path.join(self.path, "diff")


class LayerStore:
    def __init__(self, root: str) -> None:
        self.root = root
        self.layers_dir = os.path.join(root, "layers")
        self.links_dir = os.path.join(root, "l")
        self.tmp_dir = os.path.join(root, "tmp")
        self._compress_lock = threading.Lock()
        self._held: collections.Counter[str] = collections.Counter()  # chains a pull or load is about to use
        self._held_lock = threading.Lock()
        for d in (self.layers_dir, self.links_dir, self.tmp_dir):
            os.makedirs(d, exist_ok=True)

    def _dir(self, chain: str) -> str:
        return os.path.join(self.layers_dir, chain.removeprefix("sha256:"))

    def get(self, chain: str) -> Layer:
        path = self._dir(chain)
        try:
            with open(os.path.join(path, META), encoding="utf-8") as f:
                meta = json.load(f)
        except FileNotFoundError:
            raise NotFound(f"layer {chain} does not exist") from None
        return Layer(chain, meta["diff_id"], meta.get("parent"), meta.get("size", 0), meta["link"], path,
                     meta.get("tar_size"))

    def exists(self, chain: str) -> bool:
        return os.path.exists(os.path.join(self._dir(chain), META))

    def all_chain_ids(self) -> list[str]:
        return ["sha256:" + d for d in os.listdir(self.layers_dir) if not d.startswith(".")]

    def link_path(self, layer: Layer) -> str:
        return os.path.join(self.links_dir, layer.link)

    # -- creating layers -------------------------------------------------------
    def add_from_file(self, parent: str | None, path: str, expected_diff_id: str | None = None,
                      blob_digest: str | None = None) -> Layer:
        """Store a (possibly compressed) layer tar from a file, unpacking it in the same pass that hashes it.

        The file stays where it is (the caller removes it) and must be on the
        store's filesystem to be linked rather than copied. An uncompressed tar is
        hard-linked as layer.tar; a gzip file whose verified registry digest is
        `blob_digest` is hard-linked as layer.tar.gz; anything else is
        decompressed into layer.tar on the way. Nothing is stored if the content
        is not a safe tar or does not match `expected_diff_id`.
        """
        work = self._new_work()
        try:
            with open(path, "rb") as raw:
                source = Decompressing(raw)
                copy_to: str | None = None
                if source.kind == "":
                    _link_or_copy(path, os.path.join(work, TAR))
                elif source.kind == "gzip" and blob_digest:
                    _link_or_copy(path, os.path.join(work, GZIP_BLOB))
                    blob = {"digest": blob_digest, "size": os.fstat(raw.fileno()).st_size}
                    atomic_write_json(os.path.join(work, BLOB_META), blob)
                else:
                    copy_to = os.path.join(work, TAR)
                diff_id, tar_size, size = _unpack(source, os.path.join(work, "diff"), copy_to)
            _check_diff_id(expected_diff_id, diff_id)
            return self._commit(work, parent, diff_id, size, tar_size)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def add_from_dir(self, parent: str | None, upper: str) -> Layer:
        """Store an overlay upper dir as a layer: its tar is written, the dir itself becomes the diff."""
        from engine.snapshots.diff import tar_upper

        work = self._new_work()
        try:
            tar_path = os.path.join(work, TAR)
            diff_id = tar_upper(upper, tar_path)
            chain = chain_id(parent, diff_id)
            if self.exists(chain):
                return self.get(chain)
            diff = os.path.join(work, "diff")
            os.rename(upper, diff)
            return self._commit(work, parent, diff_id, _content_size(diff), os.path.getsize(tar_path))
        finally:
            shutil.rmtree(work, ignore_errors=True)

    async def add_from_chunks(self, parent: str | None, chunks: AsyncIterator[bytes]) -> Layer:
        """Spool an async byte stream to disk, then store it (used by import); the spool becomes layer.tar."""
        import asyncio

        spool = os.path.join(self.tmp_dir, "spool-" + secrets.token_hex(8))
        try:
            with open(spool, "wb") as out:  # noqa: ASYNC230 - writes of network-paced chunks to the page cache
                async for chunk in chunks:
                    out.write(chunk)
            return await asyncio.to_thread(self.add_from_file, parent, spool)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(spool)

    def _new_work(self) -> str:
        work = os.path.join(self.tmp_dir, "layer-" + secrets.token_hex(8))
        os.makedirs(work)
        return work

    def _commit(self, work: str, parent: str | None, diff_id: str, size: int, tar_size: int) -> Layer:
        """Rename a complete work dir into place; if the chain is there already, that layer wins."""
        chain = chain_id(parent, diff_id)
        if self.exists(chain):
            return self.get(chain)
        target = self._dir(chain)
        link = self._new_link(diff_target=os.path.join(target, "diff"))
        meta = {"diff_id": diff_id, "parent": parent, "size": size, "link": link, "tar_size": tar_size}
        atomic_write_json(os.path.join(work, META), meta)
        try:
            os.rename(work, target)
        except OSError:
            os.unlink(os.path.join(self.links_dir, link))
            if self.exists(chain):  # a concurrent add of the same chain renamed first
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

    # -- the archive form --------------------------------------------------------
    def open_tar(self, layer: Layer) -> LayerTar:
        """The layer's uncompressed tar (its sha256 is the diff ID), from whichever archive form it has."""
        try:
            plain = open(os.path.join(layer.path, TAR), "rb")  # noqa: SIM115 - the LayerTar returned owns it
        except FileNotFoundError:
            pass  # a gzip-only layer, or `compressed` just replaced layer.tar by layer.tar.gz
        else:
            return LayerTar(plain, plain, os.fstat(plain.fileno()).st_size)
        try:
            raw = open(os.path.join(layer.path, GZIP_BLOB), "rb")  # noqa: SIM115 - the LayerTar returned owns it
        except FileNotFoundError:
            raise NotFound(f"layer {layer.chain_id} has no archive in the store") from None
        try:
            tar_size = self.get(layer.chain_id).tar_size  # fresh: `compressed` may have just recorded it
            if tar_size is None:
                tar_size = _gunzipped_size(raw)
        except BaseException:
            raw.close()
            raise
        return LayerTar(gzip.GzipFile(fileobj=raw, mode="rb"), raw, tar_size)

    def compressed(self, layer: Layer) -> tuple[str, str, int]:
        """The layer's gzip blob (path, digest, size) for a push; made once, after which layer.tar goes."""
        with self._compress_lock:  # two pushes of one layer: one compresses, the other reuses
            kept = _kept_blob(layer.path)
            if kept is not None:
                return kept
            target = os.path.join(layer.path, GZIP_BLOB)
            tmp = target + ".tmp-" + secrets.token_hex(4)
            try:
                with self.open_tar(layer) as src:
                    digest, size = write_gzip(src, tmp)
                    tar_size = src.size
                self._record_tar_size(layer, tar_size)
                atomic_write_json(os.path.join(layer.path, BLOB_META), {"digest": digest, "size": size})
                os.replace(tmp, target)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(layer.path, TAR))  # readers that had it open keep reading it
            return target, digest, size

    def _record_tar_size(self, layer: Layer, tar_size: int) -> None:
        """Put tar_size into meta.json (layers from older stores lack it) before layer.tar goes."""
        meta_path = os.path.join(layer.path, META)
        with open(meta_path, encoding="utf-8") as f:
            meta: dict[str, Any] = json.load(f)
        if meta.get("tar_size") != tar_size:
            meta["tar_size"] = tar_size
            atomic_write_json(meta_path, meta)

    # -- removing layers -------------------------------------------------------
    @contextlib.contextmanager
    def hold(self, chains: Iterable[str]) -> Iterator[None]:
        """Keep `chains` from garbage collection until an image refers to them."""
        wanted = list(chains)
        with self._held_lock:
            self._held.update(wanted)
        try:
            yield
        finally:
            with self._held_lock:
                self._held.subtract(wanted)
                self._held = +self._held

    def held(self) -> set[str]:
        with self._held_lock:
            return set(self._held)

    def remove(self, chain: str) -> None:
        try:
            layer = self.get(chain)
        except NotFound:
            return
        gone = os.path.join(self.tmp_dir, "gone-" + secrets.token_hex(8))
        os.rename(layer.path, gone)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.links_dir, layer.link))
        shutil.rmtree(gone, ignore_errors=True)

    def clean_tmp(self) -> None:
        """At start: what an interrupted import, load, pull or build left (mounts first), and the
        redundant layer.tar of layers that also hold their gzip blob (stores from before one archive form)."""
        from engine.util import mounts

        for point in mounts.mounts_under(self.tmp_dir):
            mounts.unmount(point, detach=True)
        for entry in os.listdir(self.tmp_dir):
            shutil.rmtree(os.path.join(self.tmp_dir, entry), ignore_errors=True)
        for chain in self.all_chain_ids():
            self._tidy(chain)

    def _tidy(self, chain: str) -> None:
        try:
            layer = self.get(chain)
        except (NotFound, ValueError, KeyError):
            return
        for name in os.listdir(layer.path):
            if ".tmp-" in name:  # a compression an engine crash interrupted
                os.unlink(os.path.join(layer.path, name))
        tar = os.path.join(layer.path, TAR)
        if not os.path.exists(tar) or _kept_blob(layer.path) is None:
            return
        with open(os.path.join(layer.path, GZIP_BLOB), "rb") as f:
            if compression_of(f.read(6)) != "gzip":
                return  # an old pull kept a blob that was not gzip: layer.tar is the one to trust
        self._record_tar_size(layer, os.path.getsize(tar))
        os.unlink(tar)


def _unpack(source: Decompressing, diff: str, copy_to: str | None) -> tuple[str, int, int]:
    """Extract `source` into `diff` while hashing every byte (and copying them to `copy_to`).

    Returns (diff ID, tar size, content size).
    """
    with contextlib.ExitStack() as stack:
        copy = stack.enter_context(open(copy_to, "xb")) if copy_to else None
        reader = HashingReader(source, copy)
        size = tarsafe.extract(reader, diff, whiteouts="overlay")  # type: ignore[arg-type]
        reader.drain()
    return reader.digest, reader.count, size


def _check_diff_id(expected: str | None, actual: str) -> None:
    if expected and expected != actual:
        raise InvalidArgument(f"layer content does not match its diff ID: expected {expected}, got {actual}")


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another filesystem, or links not allowed there
        shutil.copyfile(src, dst)


def _kept_blob(path: str) -> tuple[str, str, int] | None:
    """(path, digest, size) of the layer dir's gzip blob if it is complete, else None."""
    target = os.path.join(path, GZIP_BLOB)
    try:
        with open(os.path.join(path, BLOB_META), encoding="utf-8") as f:
            meta = json.load(f)
        if os.path.exists(target):
            return target, str(meta["digest"]), int(meta["size"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        pass
    return None


def _gunzipped_size(raw: IO[bytes]) -> int:
    """Decompress to count (only for an old store's layer without tar_size), then rewind."""
    total = 0
    with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
        while block := gz.read(BLOCK):
            total += len(block)
    raw.seek(0)
    return total


def _content_size(diff: str) -> int:
    size = 0
    for dirpath, _dirs, files in os.walk(diff):
        for name in files:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                size += st.st_size
    return size
