"""docker pull: manifest (index → this platform), config, layers in parallel, in Docker's progress format.

Layers download three at a time into `<tmp>/blobs/<digest>.partial`, resuming
with a Range request after a dropped connection, and are verified against their
digest before they are unpacked, in order, into the layer store. The image is
registered only when every layer is in: a failed pull leaves no image, and a
re-run finds the layers that did arrive ("Already exists").
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from engine.errors import InvalidArgument
from engine.images.config import host_architecture
from engine.images.reference import Reference
from engine.images.registry.client import (
    INDEX_TYPES,
    Credentials,
    RegistryError,
    RegistrySettings,
    Repository,
    _RangeIgnored,
)
from engine.images.store import Image, ImageStore
from engine.snapshots.layers import chain_id

log = logging.getLogger(__name__)
PARALLEL = 3
RETRIES = 5
Emit = Callable[[dict[str, Any]], None]


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


class Puller:
    def __init__(self, store: ImageStore, settings: RegistrySettings, blob_dir: str) -> None:
        self.store = store
        self.settings = settings
        self.blob_dir = blob_dir
        os.makedirs(blob_dir, exist_ok=True)

    async def pull(self, ref: Reference, creds: Credentials, emit: Emit, wanted: tuple[str, str, str] | None = None) -> PullResult:
        repo = Repository(ref.domain, ref.path, creds, self.settings)
        target = ref.digest or ref.tag or "latest"
        emit({"status": f"Pulling from {ref.familiar_name()}", "id": target})
        manifest, media, digest = await asyncio.to_thread(repo.manifest, target)
        if media in INDEX_TYPES or "manifests" in manifest:
            chosen = select_platform(manifest, wanted or host_platform())
            manifest, media, digest = await asyncio.to_thread(repo.manifest, chosen)
        config_desc = manifest.get("config") or {}
        layers = manifest.get("layers") or []
        if not config_desc.get("digest"):
            raise RegistryError("the manifest has no image config")
        config_bytes = await asyncio.to_thread(self._small_blob, repo, config_desc["digest"])
        config = json.loads(config_bytes)
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        if len(diff_ids) != len(layers):
            raise RegistryError("the image config and its manifest disagree on the number of layers")
        iid = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
        had_tag = ref.tag is not None and self.store.refs.get(str(ref)) == iid
        parent: str | None = None
        todo: list[tuple[dict[str, Any], str, str | None]] = []
        for desc, diff_id in zip(layers, diff_ids):
            chain = chain_id(parent, diff_id)
            if self.store.layers.exists(chain):
                emit({"status": "Already exists", "progressDetail": {}, "id": _short(desc["digest"])})
                todo.append((desc, diff_id, None))
            else:
                emit({"status": "Pulling fs layer", "progressDetail": {}, "id": _short(desc["digest"])})
                todo.append((desc, diff_id, chain))
            parent = chain
        gate = asyncio.Semaphore(PARALLEL)
        loop = asyncio.get_running_loop()

        def emit_threadsafe(msg: dict[str, Any]) -> None:
            loop.call_soon_threadsafe(emit, msg)

        async def fetch(desc: dict[str, Any]) -> str:
            async with gate:
                return await asyncio.to_thread(self._download, repo, desc, emit_threadsafe)

        downloads = {desc["digest"]: asyncio.ensure_future(fetch(desc)) for desc, _, chain in todo if chain}
        try:
            parent = None
            for desc, diff_id, chain in todo:
                if chain is None:
                    parent = chain_id(parent, diff_id)
                    continue
                path = await downloads[desc["digest"]]
                emit({"status": "Extracting", "progressDetail": {"current": 0, "total": desc.get("size", 0)},
                      "id": _short(desc["digest"])})
                layer = await asyncio.to_thread(self._unpack, parent, path, diff_id, desc)
                parent = layer.chain_id
                emit({"status": "Pull complete", "progressDetail": {}, "id": _short(desc["digest"])})
        finally:
            for task in downloads.values():
                if not task.done():
                    task.cancel()
        img = self.store.add(config_bytes)
        emit({"status": f"Digest: {digest}"})
        return PullResult(img, digest, not had_tag)

    # -- blobs -------------------------------------------------------------------------------------
    def _small_blob(self, repo: Repository, digest: str) -> bytes:
        chunks, _ = repo.blob(digest)
        data = b"".join(chunks)
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise RegistryError(f"image config verification failed for digest {digest}")
        return data

    def _download(self, repo: Repository, desc: dict[str, Any], emit: Emit) -> str:
        digest = desc["digest"]
        if not digest.startswith("sha256:"):
            raise InvalidArgument(f"unsupported digest algorithm in {digest}")
        final = os.path.join(self.blob_dir, digest[7:])
        partial = final + ".partial"
        total = desc.get("size")
        short = _short(digest)
        for attempt in range(RETRIES):
            offset = os.path.getsize(partial) if os.path.exists(partial) else 0
            try:
                chunks, length = repo.blob(digest, offset)
                total = length or total
                done = offset
                last = 0
                with open(partial, "ab") as out:
                    for chunk in chunks:
                        out.write(chunk)
                        done += len(chunk)
                        if done - last >= 512 * 1024 or (total and done >= total):
                            last = done
                            emit({"status": "Downloading", "progressDetail": {"current": done, "total": total or 0},
                                  "progress": progress_bar(done, total), "id": short})
                if total and done < total:
                    raise requests.exceptions.ChunkedEncodingError("unexpected EOF")
                break
            except _RangeIgnored:
                os.unlink(partial)
            except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ReadTimeout) as exc:
                log.info("download of %s interrupted (%s); retrying", short, exc)
                if attempt == RETRIES - 1:
                    raise RegistryError(f"failed to download layer {short}: unexpected EOF") from None
                emit({"status": f"Retrying in {attempt + 1} second{'s' if attempt else ''}", "progressDetail": {}, "id": short})
                import time

                time.sleep(attempt + 1)
        emit({"status": "Verifying Checksum", "progressDetail": {}, "id": short})
        if "sha256:" + _file_sha256(partial) != digest:
            os.unlink(partial)
            raise RegistryError(f"filesystem layer verification failed for digest {digest}")
        os.rename(partial, final)
        emit({"status": "Download complete", "progressDetail": {}, "id": short})
        return final

    def _unpack(self, parent: str | None, path: str, diff_id: str, desc: dict[str, Any]) -> Any:
        try:
            with open(path, "rb") as f:
                layer = self.store.layers.add_from_stream(parent, f, expected_diff_id=diff_id)
            if "gzip" in (desc.get("mediaType") or "") or desc.get("mediaType", "").endswith("tar.gzip"):
                self.store.layers.keep_compressed(layer, path, desc["digest"], desc.get("size") or os.path.getsize(path))
            return layer
        finally:
            if os.path.exists(path):
                os.unlink(path)


def _short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


def _file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 20)
            if not block:
                break
            h.update(block)
    return h.hexdigest()
