"""docker push: blobs the registry lacks (HEAD first, so shared layers are skipped), then the manifest."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.images.reference import Reference
from engine.images.registry.auth import Credentials, registry_domain
from engine.images.registry.client import RegistrySettings, Repository
from engine.images.registry.pull import _short, progress_bar
from engine.images.store import Image, ImageStore

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_V1 = "application/vnd.docker.container.image.v1+json"
LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
Emit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class PushResult:
    tag: str
    digest: str
    size: int


class Pusher:
    def __init__(self, store: ImageStore, settings: RegistrySettings) -> None:
        self.store = store
        self.settings = settings

    async def push(self, img: Image, ref: Reference, creds: Credentials, emit: Emit) -> PushResult:
        repo = Repository(ref.domain, ref.path, creds, self.settings, push=True)
        emit({"status": f"The push refers to repository [{ref.name if ref.domain != 'docker.io' else 'docker.io/' + ref.path}]"})
        layers = [self.store.layers.get(c) for c in img.chain]
        blobs = []
        for layer in layers:
            path, digest, size = await asyncio.to_thread(self.store.layers.compressed, layer)
            blobs.append((path, digest, size))
        for _, digest, _ in reversed(blobs):
            emit({"status": "Preparing", "progressDetail": {}, "id": _short(digest)})
        loop = asyncio.get_running_loop()
        for path, digest, _size in reversed(blobs):
            short = _short(digest)
            exists = await asyncio.to_thread(repo.has_blob, digest)
            if exists:
                emit({"status": "Layer already exists", "progressDetail": {}, "id": short})
                continue

            def progress(done: int, total: int, short: str = short) -> None:
                loop.call_soon_threadsafe(emit, {"status": "Pushing", "progressDetail": {"current": done, "total": total},
                                                 "progress": progress_bar(done, total), "id": short})

            await asyncio.to_thread(repo.upload_blob, digest, path, progress)
            emit({"status": "Pushed", "progressDetail": {}, "id": short})
        config_digest = img.id
        if not await asyncio.to_thread(repo.has_blob, config_digest):
            import os
            import tempfile

            with tempfile.NamedTemporaryFile(dir=self.store.layers.tmp_dir, delete=False) as f:
                f.write(img.raw)
            try:
                await asyncio.to_thread(repo.upload_blob, config_digest, f.name)
            finally:
                os.unlink(f.name)
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_V2,
            "config": {"mediaType": CONFIG_V1, "size": len(img.raw), "digest": config_digest},
            "layers": [{"mediaType": LAYER_GZIP, "size": size, "digest": digest} for _, digest, size in blobs],
        }
        body = json.dumps(manifest, indent=3).encode()
        import hashlib

        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        tag = ref.tag or "latest"
        await asyncio.to_thread(repo.put_manifest, tag, body, MANIFEST_V2)
        emit({"status": f"{tag}: digest: {digest} size: {len(body)}"})
        emit({"progressDetail": {}, "aux": {"Tag": tag, "Digest": digest, "Size": len(body)}})
        return PushResult(tag, digest, len(body))


async def login(settings: RegistrySettings, server: str, creds: Credentials) -> None:
    """Check credentials against a registry (POST /auth); nothing is stored."""
    repo = Repository(registry_domain(server), "", creds, settings)
    await asyncio.to_thread(repo.check)
