"""docker pull: manifest (index → this platform), config, then every layer downloaded and unpacked concurrently.

All chain IDs follow from the config's diff IDs, so each layer is independent:
it downloads (three at a time, engine-wide) into `<blobs>/<digest>.partial`,
resuming with a Range request after a dropped connection and hashing as it
arrives, is verified against its digest, and is then unpacked into the layer
store (two at a time, engine-wide) while later layers still download. A blob is
fetched by one pull at a time: a second pull needing the same layer waits for
the first and then finds it "Already exists". The image is registered only when
every layer is in: a failed pull stops its other downloads (their partial files
stay, for the next pull to resume), waits for work already running, and leaves
no image; a re-run finds the layers that did arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import platform
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import requests

from engine.errors import InvalidArgument
from engine.images.config import host_architecture
from engine.images.reference import Reference
from engine.images.registry.auth import Credentials
from engine.images.registry.client import (
    INDEX_TYPES,
    RegistryError,
    RegistrySettings,
    Repository,
    _RangeIgnored,
)
from engine.images.service import ImageService
from engine.images.store import Image, ImageStore
from engine.snapshots.layers import chain_ids

log = logging.getLogger(__name__)
PARALLEL = 3  # downloads at a time, as Docker's max-concurrent-downloads
UNPACKS = 2  # layers unpacked at a time
RETRIES = 5
Emit = Callable[[dict[str, Any]], None]
T = TypeVar("T")


def progress_bar(current: int, total: int | None) -> str:
    def human(n: float) -> str:
        for unit in ("B", "kB", "MB", "GB"):
            if n < 1000 or unit == "GB":
                return f"{n:.3g}{unit}" if unit != "B" else f"{int(n)}B"
            n /= 1000
        return f"{n}"

    if not total:
        return human(current)
    width = 50
    done = min(width, int(width * current / total))
    bar = "=" * max(0, done - 1) + (">" if done else "") + " " * (width - done)
    return f"[{bar}] {human(current):>8}/{human(total)}"


def host_platform() -> tuple[str, str, str]:
    arch = host_architecture()
    variant = {"aarch64": "v8", "armv7l": "v7"}.get(platform.machine(), "")
    return "linux", arch, variant


def select_platform(index: dict[str, Any], wanted: tuple[str, str, str]) -> str:
    os_name, arch, variant = wanted
    candidates = []
    for m in index.get("manifests") or []:
        p = m.get("platform") or {}
        if p.get("os") == os_name and p.get("architecture") == arch:
            candidates.append((0 if not variant or p.get("variant", variant) == variant else 1, m["digest"]))
    if not candidates:
        raise RegistryError(f"no matching manifest for {os_name}/{arch}{'/' + variant if variant else ''} in the manifest list entries")
    return sorted(candidates)[0][1]


@dataclass
class PullResult:
    image: Image
    digest: str
    new: bool


@dataclass(frozen=True)
class LayerJob:
    """One layer of the image being pulled: its manifest descriptor and where it sits in the chain."""

    desc: dict[str, Any]
    diff_id: str
    parent: str | None
    chain: str

    @property
    def digest(self) -> str:
        return str(self.desc["digest"])

    @property
    def short(self) -> str:
        return _short(self.digest)


def plan_layers(layers: list[dict[str, Any]], diff_ids: list[str]) -> list[LayerJob]:
    """Pair the manifest's layer descriptors with the config's diff IDs and their chain IDs."""
    if len(diff_ids) != len(layers):
        raise RegistryError("the image config and its manifest disagree on the number of layers")
    chains = chain_ids(diff_ids)
    return [LayerJob(desc, diff_id, chains[i - 1] if i else None, chains[i])
            for i, (desc, diff_id) in enumerate(zip(layers, diff_ids, strict=True))]


class _KeyedLocks:
    """An asyncio lock per key, forgotten once nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


async def _in_thread(call: Callable[..., T], *args: Any) -> T:
    """`call(*args)` in a thread; if cancelled, wait for the thread to end first, so that the
    locks held around it are not released while it still writes files."""
    future = asyncio.ensure_future(asyncio.to_thread(call, *args))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        raise


class _Stopped(RegistryError):
    """The pull this download belongs to failed elsewhere: stop, keep the partial file."""


class Puller:
    def __init__(self, store: ImageStore, settings: RegistrySettings, blob_dir: str) -> None:
        self.store = store
        self.settings = settings
        self.blob_dir = blob_dir
        self._blob_locks = _KeyedLocks()
        self._download_slots = asyncio.Semaphore(PARALLEL)
        self._unpack_slots = asyncio.Semaphore(UNPACKS)
        os.makedirs(blob_dir, exist_ok=True)
        for name in os.listdir(blob_dir):  # at start: verified blobs an engine crash left before unpacking
            if not name.endswith(".partial"):
                os.unlink(os.path.join(blob_dir, name))

    async def pull(self, ref: Reference, creds: Credentials, emit: Emit, wanted: tuple[str, str, str] | None = None) -> PullResult:
        repo = Repository(ref.domain, ref.path, creds, self.settings)
        target = ref.digest or ref.tag or "latest"
        emit({"status": f"Pulling from {ref.familiar_name()}", "id": target})
        manifest, media, digest = await asyncio.to_thread(repo.manifest, target)
        if media in INDEX_TYPES or "manifests" in manifest:
            chosen = select_platform(manifest, wanted or host_platform())
            manifest, media, digest = await asyncio.to_thread(repo.manifest, chosen)
        config_desc = manifest.get("config") or {}
        if not config_desc.get("digest"):
            raise RegistryError("the manifest has no image config")
        config_bytes = await asyncio.to_thread(self._small_blob, repo, config_desc["digest"])
        config = json.loads(config_bytes)
        jobs = plan_layers(manifest.get("layers") or [], (config.get("rootfs") or {}).get("diff_ids") or [])
        iid = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
        had_tag = ref.tag is not None and self.store.refs.get(str(ref)) == iid
        with self.store.layers.hold(job.chain for job in jobs):  # an rmi or prune meanwhile must not collect them
            todo = []
            for job in jobs:
                if self.store.layers.exists(job.chain):
                    emit({"status": "Already exists", "progressDetail": {}, "id": job.short})
                else:
                    emit({"status": "Pulling fs layer", "progressDetail": {}, "id": job.short})
                    todo.append(job)
            await self._fetch_layers(repo, todo, emit)
            img = self.store.add(config_bytes)
        emit({"status": f"Digest: {digest}"})
        return PullResult(img, digest, not had_tag)

    async def pull_and_tag(self, images: ImageService, ref: Reference, creds: Credentials, emit: Emit) -> PullResult:
        """`docker pull` whole: the image, its tag (if `ref` has one) and digest reference, the
        `pull` event and the closing status line. Used by POST /images/create and by FROM."""
        result = await self.pull(ref, creds, emit)
        if ref.tag:
            images.tag(result.image, ref)
        self.store.tag(Reference(ref.domain, ref.path, None, result.digest), result.image)
        images.events.publish("image", "pull", result.image.id, {"name": ref.familiar()})
        state = "Downloaded newer image" if result.new else "Image is up to date"
        emit({"status": f"Status: {state} for {ref.familiar()}"})
        return result

    # -- layers ------------------------------------------------------------------------------------
    async def _fetch_layers(self, repo: Repository, jobs: list[LayerJob], emit: Emit) -> None:
        """Every job at once (the slots bound the work); the first failure stops the rest, then is raised."""
        loop = asyncio.get_running_loop()
        stop = threading.Event()

        def emit_threadsafe(msg: dict[str, Any]) -> None:
            loop.call_soon_threadsafe(emit, msg)

        tasks = [asyncio.ensure_future(self._fetch_layer(repo, job, emit, emit_threadsafe, stop)) for job in jobs]
        try:
            await asyncio.gather(*tasks)
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _fetch_layer(self, repo: Repository, job: LayerJob, emit: Emit, emit_threadsafe: Emit,
                           stop: threading.Event) -> None:
        async with self._blob_locks.hold(job.digest):  # one download of a blob at a time, engine-wide
            if self.store.layers.exists(job.chain):  # a concurrent pull brought it in meanwhile
                emit({"status": "Already exists", "progressDetail": {}, "id": job.short})
                return
            async with self._download_slots:
                path = await _in_thread(self._download, repo, job.desc, emit_threadsafe, stop)
            try:
                emit({"status": "Extracting", "progressDetail": {"current": 0, "total": job.desc.get("size", 0)},
                      "id": job.short})
                async with self._unpack_slots:
                    await _in_thread(self._unpack, job, path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
            emit({"status": "Pull complete", "progressDetail": {}, "id": job.short})

    def _unpack(self, job: LayerJob, path: str) -> None:
        """Unpack a verified blob in one pass; a gzip blob is kept as the layer's archive (for pushes)."""
        self.store.layers.add_from_file(job.parent, path, expected_diff_id=job.diff_id, blob_digest=job.digest)

    # -- blobs -------------------------------------------------------------------------------------
    def _small_blob(self, repo: Repository, digest: str) -> bytes:
        chunks, _ = repo.blob(digest)
        data = b"".join(chunks)
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise RegistryError(f"image config verification failed for digest {digest}")
        return data

    def _download(self, repo: Repository, desc: dict[str, Any], emit: Emit, stop: threading.Event) -> str:
        """Fetch a blob to `<blobs>/<hex>` and verify it; returns that path."""
        digest = desc["digest"]
        if not digest.startswith("sha256:"):
            raise InvalidArgument(f"unsupported digest algorithm in {digest}")
        final = os.path.join(self.blob_dir, digest[7:])
        partial = final + ".partial"
        sha256 = self._receive(repo, desc, partial, emit, stop)
        emit({"status": "Verifying Checksum", "progressDetail": {}, "id": _short(digest)})
        if "sha256:" + sha256.hexdigest() != digest:
            os.unlink(partial)
            raise RegistryError(f"filesystem layer verification failed for digest {digest}")
        os.rename(partial, final)
        emit({"status": "Download complete", "progressDetail": {}, "id": _short(digest)})
        return final

    def _receive(self, repo: Repository, desc: dict[str, Any], partial: str, emit: Emit,
                 stop: threading.Event) -> hashlib._Hash:
        """Download into `partial` with retries; returns the sha256 of all it holds."""
        short = _short(desc["digest"])
        for attempt in range(RETRIES):
            try:
                return self._receive_once(repo, desc, partial, emit, stop)
            except _RangeIgnored:
                os.unlink(partial)
            except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ReadTimeout) as exc:
                log.info("download of %s interrupted (%s); retrying", short, exc)
                if attempt == RETRIES - 1:
                    break
                emit({"status": f"Retrying in {attempt + 1} second{'s' if attempt else ''}", "progressDetail": {}, "id": short})
                if stop.wait(attempt + 1):
                    raise _Stopped(f"download of layer {short} stopped") from None
        raise RegistryError(f"failed to download layer {short}: unexpected EOF")

    def _receive_once(self, repo: Repository, desc: dict[str, Any], partial: str, emit: Emit,
                      stop: threading.Event) -> hashlib._Hash:
        """One request, appending to what an earlier attempt left; hashes as it writes."""
        sha256 = hashlib.sha256()
        offset = _hash_file(partial, sha256) if os.path.exists(partial) else 0
        chunks, length = repo.blob(desc["digest"], offset)
        total = length or desc.get("size")
        done, last = offset, 0
        with open(partial, "ab") as out:
            for chunk in chunks:
                if stop.is_set():
                    raise _Stopped(f"download of layer {_short(desc['digest'])} stopped")
                out.write(chunk)
                sha256.update(chunk)
                done += len(chunk)
                if done - last >= 512 * 1024 or (total and done >= total):
                    last = done
                    emit({"status": "Downloading", "progressDetail": {"current": done, "total": total or 0},
                          "progress": progress_bar(done, total), "id": _short(desc["digest"])})
        if total and done < total:
            raise requests.exceptions.ChunkedEncodingError("unexpected EOF")
        return sha256


def _short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


def _hash_file(path: str, sha256: hashlib._Hash) -> int:
    """Feed a file to `sha256`; returns its length."""
    size = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            sha256.update(block)
            size += len(block)
    return size
