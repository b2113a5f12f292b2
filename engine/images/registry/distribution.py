"""GET /distribution/{name}/json: what the registry holds for a tag, without pulling it.

Answers Docker's shape: the manifest's descriptor (media type, digest, size) and
the platforms it offers: each entry of a manifest list, or for a single manifest
the os/architecture of its image config.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from engine.images import reference
from engine.images.registry.auth import Credentials
from engine.images.registry.client import RegistryError, RegistrySettings, Repository


def inspect(ref: reference.Reference, creds: Credentials, settings: RegistrySettings) -> dict[str, Any]:
    """Blocking (call it in a thread). Raises the client's NotFound/Unauthorized/RegistryError."""
    repo = Repository(ref.domain, ref.path, creds, settings)
    doc, media, digest, size = repo.manifest_sized(ref.digest or ref.tag or "latest")
    descriptor = {"mediaType": media, "digest": digest, "size": size}
    if "manifests" in doc:
        platforms = [_platform(m.get("platform") or {}) for m in doc.get("manifests") or []]
    else:
        platforms = [_platform(_config(repo, doc))]
    return {"Descriptor": descriptor, "Platforms": platforms}


def _config(repo: Repository, manifest: dict[str, Any]) -> dict[str, Any]:
    digest = (manifest.get("config") or {}).get("digest") or ""
    if not digest:
        raise RegistryError("the manifest has no image config")
    chunks, _ = repo.blob(digest)
    data = b"".join(chunks)
    if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
        raise RegistryError(f"image config verification failed for digest {digest}")
    config = json.loads(data)
    return config if isinstance(config, dict) else {}


def _platform(src: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"architecture": src.get("architecture") or "", "os": src.get("os") or ""}
    for key in ("os.version", "os.features", "variant", "features"):
        if src.get(key):
            out[key] = src[key]
    return out
