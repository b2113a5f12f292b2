"""`docker save` and `docker load` archives.

Save writes the format Docker 20.10 writes (and every later Docker reads):

    manifest.json            [{"Config": "<id>.json", "RepoTags": [...], "Layers": ["<v1>/layer.tar", ...]}]
    repositories             {"busybox": {"latest": "<top v1 id>"}}
    <id>.json                the image config, byte for byte
    <v1>/VERSION, json, layer.tar   one directory per layer

Load reads that format, Docker 25+'s OCI-layout archives (manifest.json pointing
into blobs/sha256/), and plain OCI image layouts (index.json only). Archive
entries are extracted with `tarsafe` first, so a hostile archive is refused
before anything is registered.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engine.errors import InvalidArgument, NotFound
from engine.images import reference
from engine.images.config import image_id
from engine.images.store import Image, ImageStore
from engine.snapshots import tarsafe
from engine.snapshots.layers import chain_id


@dataclass(frozen=True)
class SaveItem:
    image: Image
    repo_tags: tuple[str, ...]


def v1_id(chain_id: str, parent_v1: str | None, top_config_id: str | None) -> str:
    """Deterministic legacy layer IDs: a digest of the chain (and of the config for the top layer)."""
    text = f"{parent_v1 or ''} {chain_id} {top_config_id or ''}"
    return hashlib.sha256(text.encode()).hexdigest()


def _tarinfo(name: str, size: int = 0, kind: bytes = tarfile.REGTYPE, mtime: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = kind
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.mtime = mtime
    return info


def write_save_archive(store: ImageStore, items: list[SaveItem], out: Any) -> None:
    """Write the archive to a file-like `out` (blocking; run it in a thread)."""
    manifest: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    written: set[str] = set()
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for item in items:
            img = item.image
            layer_paths: list[str] = []
            parent_v1: str | None = None
            mtime = img.created_ns // 1_000_000_000
            for index, chain in enumerate(img.chain):
                is_top = index == len(img.chain) - 1
                lid = v1_id(chain, parent_v1, img.id if is_top else None)
                if lid not in written:
                    written.add(lid)
                    _write_layer(tar, store, img, chain, lid, parent_v1, is_top)
                layer_paths.append(f"{lid}/layer.tar")
                parent_v1 = lid
            config_name = img.hex + ".json"
            if config_name not in written:
                written.add(config_name)
                tar.addfile(_tarinfo(config_name, len(img.raw), mtime=mtime), io.BytesIO(img.raw))
            manifest.append({"Config": config_name, "RepoTags": list(item.repo_tags) or None, "Layers": layer_paths})
            for tag in item.repo_tags:
                name, _, t = tag.rpartition(":")
                if parent_v1:
                    repositories.setdefault(name, {})[t] = parent_v1
        manifest_bytes = json.dumps(manifest, separators=(",", ":")).encode()
        tar.addfile(_tarinfo("manifest.json", len(manifest_bytes)), io.BytesIO(manifest_bytes))
        if repositories:
            repo_bytes = json.dumps(repositories, separators=(",", ":")).encode()
            tar.addfile(_tarinfo("repositories", len(repo_bytes)), io.BytesIO(repo_bytes))


def _write_layer(tar: tarfile.TarFile, store: ImageStore, img: Image, chain: str, lid: str, parent_v1: str | None,
                 is_top: bool) -> None:
    """One legacy layer directory: VERSION, json (v1 metadata) and layer.tar (sha256 = the diff ID)."""
    mtime = img.created_ns // 1_000_000_000
    tar.addfile(_tarinfo(lid + "/", kind=tarfile.DIRTYPE, mtime=mtime))
    version = b"1.0"
    tar.addfile(_tarinfo(f"{lid}/VERSION", len(version), mtime=mtime), io.BytesIO(version))
    v1: dict[str, Any] = {"id": lid, "created": img.config.get("created", "1970-01-01T00:00:00Z")}
    if parent_v1:
        v1["parent"] = parent_v1
    if is_top:
        for key in ("architecture", "os", "config", "author"):
            if key in img.config:
                v1[key] = img.config[key]
    else:
        v1["container_config"] = {"Cmd": None}
    v1_bytes = json.dumps(v1, separators=(",", ":")).encode()
    tar.addfile(_tarinfo(f"{lid}/json", len(v1_bytes), mtime=mtime), io.BytesIO(v1_bytes))
    with store.layers.open_tar(store.layers.get(chain)) as src:  # a pulled layer's gzip blob, decompressed
        tar.addfile(_tarinfo(f"{lid}/layer.tar", src.size, mtime=mtime), src)


def plan_save(store: ImageStore, names: list[str]) -> list[SaveItem]:
    """Which images (and which of their tags) `docker save NAMES` writes.

    A bare repository name saves every tag of that repository; a tagged name
    saves that tag; an ID saves the image without tags.
    """
    items: dict[str, list[str]] = {}

    def add(iid: str, tag: str | None) -> None:
        tags = items.setdefault(iid, [])
        if tag and tag not in tags:
            tags.append(tag)

    for name in names:
        try:
            ref: reference.Reference | None = reference.parse(name, default_tag=False)
        except InvalidArgument:
            ref = None
        if ref is not None and ref.tag is None and ref.digest is None:
            matches = [
                (r, iid) for r, iid in ((reference.parse(f, default_tag=False), i) for f, i in store.refs.items())
                if r.name == ref.name and r.tag
            ]
            if matches:
                for r, iid in sorted(matches, key=lambda m: m[0].familiar()):
                    add(iid, r.familiar())
                continue
        img = store.find(name)
        if img is None:
            raise NotFound(f"No such image: {name}")
        tag = None
        if ref is not None and ref.tag and store.refs.get(str(ref)) == img.id:
            tag = ref.familiar()
        add(img.id, tag)
    return [SaveItem(store.images[iid], tuple(tags)) for iid, tags in items.items()]


def load_archive(store: ImageStore, archive_path: str) -> list[tuple[Image, list[str]]]:
    """Register every image of an archive on disk; returns (image, tags) pairs (blocking).

    All or nothing: if any part of the archive is bad, the layers and images this
    call added are removed again before the error is raised.
    """
    work = os.path.join(store.layers.tmp_dir, "load-" + secrets.token_hex(8))
    new_layers: list[str] = []
    new_images: list[str] = []
    try:
        with open(archive_path, "rb") as f:
            tarsafe.extract(f, work, whiteouts="keep")
        entries = _read_manifest(work)
        loaded: list[tuple[Image, list[str]]] = []
        for config_path, repo_tags, layer_paths in entries:
            raw = _read_file(work, config_path)
            try:
                config = json.loads(raw)
            except ValueError:
                raise InvalidArgument(f"invalid image config {config_path} in archive") from None
            if not isinstance(config, dict):
                raise InvalidArgument(f"invalid image config {config_path} in archive")
            diff_ids = ((config.get("rootfs") or {}).get("diff_ids")) or []
            if len(diff_ids) != len(layer_paths):
                raise InvalidArgument(
                    f"invalid archive: {config_path} names {len(diff_ids)} layers but the manifest lists {len(layer_paths)}"
                )
            for tag in repo_tags:
                reference.parse(tag)
            _load_layers(store, work, diff_ids, layer_paths, new_layers)
            existed = image_id(raw) in store.images
            img = store.add(raw)
            if not existed:
                new_images.append(img.id)
            loaded.append((img, repo_tags))
        return loaded
    except BaseException:
        for iid in new_images:
            store.delete(iid, None)
        referenced = {c for img in store.images.values() for c in img.chain}
        for chain in reversed(new_layers):
            if chain not in referenced:
                store.layers.remove(chain)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _load_layers(store: ImageStore, work: str, diff_ids: list[str], layer_paths: list[str], added: list[str]) -> None:
    """Store the layers the store lacks (each file is linked in as layer.tar, not copied), noting each in `added`
    as soon as it is in, so that a later failure can remove it again."""
    parent: str | None = None
    for diff_id, layer_path in zip(diff_ids, layer_paths, strict=True):
        chain = chain_id(parent, diff_id)
        if not store.layers.exists(chain):
            store.layers.add_from_file(parent, _inside(work, layer_path), expected_diff_id=diff_id)
            added.append(chain)
        parent = chain


def _inside(work: str, rel: str) -> str:
    clean = tarsafe.clean_member_name(rel)
    if not clean:
        raise InvalidArgument(f"invalid archive path {rel!r}")
    path = tarsafe.resolve_inside(work, clean, follow_last=True)
    if not os.path.isfile(path):
        raise InvalidArgument(f"invalid archive: {rel} is missing")
    return path


def _read_file(work: str, rel: str) -> bytes:
    with open(_inside(work, rel), "rb") as f:
        return f.read()


def _read_manifest(work: str) -> list[tuple[str, list[str], list[str]]]:
    manifest_path = os.path.join(work, "manifest.json")
    if os.path.isfile(manifest_path):
        with open(manifest_path, "rb") as f:
            try:
                doc = json.load(f)
            except ValueError:
                raise InvalidArgument("invalid archive: manifest.json is not JSON") from None
        if not isinstance(doc, list):
            raise InvalidArgument("invalid archive: manifest.json is not a list")
        out = []
        for entry in doc:
            if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
                raise InvalidArgument("invalid archive: manifest entry without Config")
            tags = [t for t in (entry.get("RepoTags") or []) if isinstance(t, str)]
            layers = entry.get("Layers") or []
            if not all(isinstance(p, str) for p in layers):
                raise InvalidArgument("invalid archive: manifest Layers must be paths")
            out.append((entry["Config"], tags, layers))
        return out
    index_path = os.path.join(work, "index.json")
    if os.path.isfile(index_path):
        return list(_read_oci_index(work, index_path))
    raise InvalidArgument("invalid archive: no manifest.json or index.json (is this a docker save archive?)")


def _blob_path(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    if algo != "sha256" or len(hexpart) != 64 or not all(c in "0123456789abcdef" for c in hexpart):
        raise InvalidArgument(f"invalid digest {digest!r} in OCI layout")
    return f"blobs/sha256/{hexpart}"


def _read_oci_index(work: str, index_path: str) -> Iterator[tuple[str, list[str], list[str]]]:
    with open(index_path, "rb") as f:
        index = json.load(f)
    for desc in index.get("manifests") or []:
        manifest = json.loads(_read_file(work, _blob_path(desc["digest"])))
        if "manifests" in manifest:  # nested index: take the host's platform
            continue
        name = (desc.get("annotations") or {}).get("io.containerd.image.name") or (
            desc.get("annotations") or {}
        ).get("org.opencontainers.image.ref.name", "")
        tags = []
        if name and ":" in name:
            try:
                tags = [reference.parse(name).familiar()]
            except InvalidArgument:
                tags = []
        yield (
            _blob_path(manifest["config"]["digest"]),
            tags,
            [_blob_path(layer["digest"]) for layer in manifest.get("layers") or []],
        )
