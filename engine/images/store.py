"""The image store: configs by content address, tags, and per-image metadata.

On disk under `<root>/image/`:

    configs/<hex>     image config bytes exactly as received; sha256 of them is the ID
    meta/<hex>.json   {"parent", "last_tag_time", "created_ns"} — what is not in the config
    refs.json         {"<fully qualified ref>": "sha256:<id>"}

Every write is one atomic rename; the in-memory maps are rebuilt at start.
Layers live in `engine.snapshots.layers.LayerStore`; an image holds its layers
by chain ID, and a layer is removed once no image or container needs it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.errors import InvalidArgument, NotFound
from engine.images import reference
from engine.images.config import image_id
from engine.images.reference import Reference
from engine.snapshots.layers import LayerStore, chain_ids
from engine.util.fs import atomic_write_bytes, atomic_write_json, read_json
from engine.util.timefmt import now_ns, parse_rfc3339


@dataclass
class Image:
    id: str
    raw: bytes
    config: dict[str, Any]
    parent: str = ""
    last_tag_time_ns: int = 0
    size: int = 0
    chain: list[str] = field(default_factory=list)
    build_key: str = ""  # the build step that made this image (the classic builder's layer cache)

    @property
    def short_id(self) -> str:
        return self.id.removeprefix("sha256:")[:12]

    @property
    def hex(self) -> str:
        return self.id.removeprefix("sha256:")

    @property
    def created_ns(self) -> int:
        try:
            return parse_rfc3339(self.config.get("created") or "")
        except InvalidArgument:
            return 0

    @property
    def container_config(self) -> dict[str, Any]:
        return self.config.get("config") or {}

    @property
    def labels(self) -> dict[str, str]:
        return self.container_config.get("Labels") or {}

    @property
    def top_layer(self) -> str | None:
        return self.chain[-1] if self.chain else None


class ImageStore:
    def __init__(self, root: str, layers: LayerStore) -> None:
        self.root = os.path.join(root, "image")
        self.layers = layers
        self.configs_dir = os.path.join(self.root, "configs")
        self.meta_dir = os.path.join(self.root, "meta")
        self.refs_path = os.path.join(self.root, "refs.json")
        os.makedirs(self.configs_dir, exist_ok=True)
        os.makedirs(self.meta_dir, exist_ok=True)
        self.images: dict[str, Image] = {}
        self.refs: dict[str, str] = {}
        self._load()

    # -- loading -----------------------------------------------------------------
    def _load(self) -> None:
        for name in os.listdir(self.configs_dir):
            if ".tmp-" in name:
                os.unlink(os.path.join(self.configs_dir, name))
                continue
            with open(os.path.join(self.configs_dir, name), "rb") as f:
                raw = f.read()
            try:
                self.images["sha256:" + name] = self._record(raw)
            except (ValueError, NotFound):
                continue  # a config whose layers are gone cannot be run; leave it out
        refs = read_json(self.refs_path, {}) or {}
        self.refs = {ref: iid for ref, iid in refs.items() if iid in self.images}

    def _record(self, raw: bytes) -> Image:
        config = json.loads(raw)
        iid = image_id(raw)
        meta = read_json(os.path.join(self.meta_dir, iid.removeprefix("sha256:") + ".json"), {}) or {}
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        chain = chain_ids(diff_ids)
        size = 0
        for c in chain:
            size += self.layers.get(c).size
        return Image(iid, raw, config, meta.get("parent", ""), meta.get("last_tag_time_ns", 0), size, chain,
                     meta.get("build_key", ""))

    # -- adding ------------------------------------------------------------------
    def add(self, raw: bytes, parent: str = "", build_key: str = "") -> Image:
        """Register a config whose layers are already in the layer store."""
        try:
            config = json.loads(raw)
        except ValueError as exc:
            raise InvalidArgument(f"invalid image config: {exc}") from None
        if not isinstance(config, dict) or not isinstance(config.get("rootfs", {}), dict):
            raise InvalidArgument("invalid image config: not a JSON object with rootfs")
        iid = image_id(raw)
        existing = self.images.get(iid)
        if existing is not None:
            if (parent and not existing.parent) or (build_key and not existing.build_key):
                existing.parent = existing.parent or parent
                existing.build_key = existing.build_key or build_key
                self._write_meta(existing)
            return existing
        for c in chain_ids((config.get("rootfs") or {}).get("diff_ids") or []):
            if not self.layers.exists(c):
                raise InvalidArgument(f"image config names layer {c} which is not in the store")
        hexid = iid.removeprefix("sha256:")
        atomic_write_bytes(os.path.join(self.configs_dir, hexid), raw, 0o644)
        img = self._record(raw)
        img.parent = parent
        img.build_key = build_key
        self._write_meta(img)
        self.images[iid] = img
        return img

    def _write_meta(self, img: Image) -> None:
        atomic_write_json(
            os.path.join(self.meta_dir, img.hex + ".json"),
            {"parent": img.parent, "last_tag_time_ns": img.last_tag_time_ns, "build_key": img.build_key},
        )

    # -- references --------------------------------------------------------------
    def _save_refs(self) -> None:
        atomic_write_json(self.refs_path, self.refs)

    def tag(self, ref: Reference, img: Image) -> str | None:
        """Point `ref` at `img`; returns the image ID it pointed at before, if any."""
        key = str(ref)
        old = self.refs.get(key)
        self.refs[key] = img.id
        img.last_tag_time_ns = now_ns()
        self._write_meta(img)
        self._save_refs()
        return old if old != img.id else None

    def untag(self, ref: Reference) -> str:
        key = str(ref)
        iid = self.refs.pop(key, None)
        if iid is None:
            raise NotFound(f"No such image: {ref.familiar()}")
        self._save_refs()
        return iid

    def refs_of(self, iid: str) -> list[Reference]:
        return sorted(
            (reference.parse(r, default_tag=False) for r, i in self.refs.items() if i == iid),
            key=lambda r: r.familiar(),
        )

    def repo_tags(self, iid: str) -> list[str]:
        return [r.familiar() for r in self.refs_of(iid) if r.tag]

    def repo_digests(self, iid: str) -> list[str]:
        return [f"{r.familiar_name()}@{r.digest}" for r in self.refs_of(iid) if r.digest]

    # -- lookup ------------------------------------------------------------------
    def resolve(self, text: str) -> Image:
        """Docker's lookup order: full ID, reference, then unique ID prefix."""
        img = self.find(text)
        if img is None:
            raise NotFound(f"No such image: {text}")
        return img

    def find(self, text: str) -> Image | None:
        if not text:
            return None
        if text.startswith("sha256:") and text in self.images:
            return self.images[text]
        if reference.is_full_id(text) and "sha256:" + text.removeprefix("sha256:") in self.images:
            return self.images["sha256:" + text.removeprefix("sha256:")]
        try:
            ref = reference.parse(text)
        except InvalidArgument:
            ref = None
        if ref is not None:
            iid = self.refs.get(str(ref))
            if iid is None and ref.digest and ref.tag:
                iid = self.refs.get(str(Reference(ref.domain, ref.path, None, ref.digest)))
            if iid is not None:
                return self.images.get(iid)
        if reference.looks_like_id_prefix(text) and len(text.removeprefix("sha256:")) >= 1:
            prefix = "sha256:" + text.removeprefix("sha256:")
            matches = [i for i in self.images if i.startswith(prefix)]
            if len(matches) == 1:
                return self.images[matches[0]]
        return None

    def cached(self, parent: str, build_key: str) -> Image | None:
        """The image an identical build step on `parent` made before, if it still exists."""
        for img in self.images.values():
            if img.build_key == build_key and img.parent == parent:
                return img
        return None

    def children(self, iid: str) -> list[Image]:
        return [img for img in self.images.values() if img.parent == iid]

    # -- removal -----------------------------------------------------------------
    def delete(self, iid: str, layers_in_use: Callable[[], Iterable[str]] | None) -> list[str]:
        """Forget an image; returns the chain IDs of layers removed with it.

        With `layers_in_use` None no layer is collected (the caller cleans up itself).
        """
        img = self.images.pop(iid, None)
        if img is None:
            return []
        for key in [r for r, i in self.refs.items() if i == iid]:
            del self.refs[key]
        self._save_refs()
        for child in self.children(iid):
            child.parent = ""
            self._write_meta(child)
        for path in (os.path.join(self.configs_dir, img.hex), os.path.join(self.meta_dir, img.hex + ".json")):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        if layers_in_use is None:
            return []
        return self.collect_layers(layers_in_use)

    def collect_layers(self, layers_in_use: Callable[[], Iterable[str]]) -> list[str]:
        needed = set(layers_in_use()) | self.layers.held()
        for img in self.images.values():
            needed.update(img.chain)
        removed = []
        for chain in self.layers.all_chain_ids():
            if chain not in needed:
                self.layers.remove(chain)
                removed.append(chain)
        return removed

    def dangling(self, img: Image) -> bool:
        return not any(i == img.id for i in self.refs.values())
