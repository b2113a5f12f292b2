"""Image operations as Docker defines them: import, tag, remove, prune, list.

The service owns the image store and asks its `ImageUsers` (the container
service) which images and layers containers hold, so that removal follows
Docker's conflict rules exactly (moby's daemon/images/image_delete.go).
"""

from __future__ import annotations

import builtins
import fnmatch
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.build.instructions import apply_changes
from engine.errors import Conflict, InvalidArgument, NotFound
from engine.events import EventBus
from engine.images import reference
from engine.images.config import encode, new_base_config
from engine.images.store import Image, ImageStore
from engine.util.filters import Filters
from engine.util.timefmt import now_ns, rfc3339_now


class ImageUsers(Protocol):
    def containers_using(self, image_id: str) -> list[tuple[str, bool]]:
        """(container id, running) for every container created from the image."""

    def layers_in_use(self) -> Iterable[str]:
        """Chain IDs of image layers that containers sit on."""


@dataclass(frozen=True)
class ImportOptions:
    repo: str = ""
    tag: str = ""
    message: str = ""
    changes: tuple[str, ...] = ()


@dataclass
class DeleteRecord:
    untagged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    items: list[dict[str, str]] = field(default_factory=list)

    def untag(self, name: str) -> None:
        self.items.append({"Untagged": name})

    def delete(self, iid: str) -> None:
        self.items.append({"Deleted": iid})


def _short(iid: str) -> str:
    return iid.removeprefix("sha256:")[:12]


class ImageService:
    def __init__(self, store: ImageStore, events: EventBus) -> None:
        self.store = store
        self.events = events
        self.users: ImageUsers | None = None

    # -- lookups -----------------------------------------------------------------
    def get(self, name: str) -> Image:
        return self.store.resolve(name)

    def _emit(self, action: str, img_id: str, name: str) -> None:
        self.events.publish("image", action, img_id, {"name": name})

    # -- import ------------------------------------------------------------------
    async def import_layer(self, chunks: AsyncIterator[bytes], opts: ImportOptions) -> Image:
        ref = reference.parse_repo_tag(opts.repo, opts.tag or None) if opts.repo else None
        container_config = apply_changes({}, list(opts.changes))
        layer = await self.store.layers.add_from_chunks(None, chunks)
        created = rfc3339_now()
        doc = new_base_config(
            container_config,
            [layer.diff_id],
            [{"created": created, "comment": opts.message or "Imported from -"}],
            created=created,
        )
        img = self.store.add(encode(doc))
        self._emit("import", img.id, img.id)
        if ref is not None:
            self.tag(img, ref)
        return img

    # -- tags --------------------------------------------------------------------
    def tag(self, img: Image, ref: reference.Reference) -> None:
        if ref.digest:
            raise InvalidArgument("refusing to create a tag with a digest reference")
        self.store.tag(ref, img)
        self._emit("tag", img.id, ref.familiar())

    def tag_by_name(self, source: str, repo: str, tag: str | None) -> None:
        img = self.get(source)
        self.tag(img, reference.parse_repo_tag(repo, tag))

    # -- removal -----------------------------------------------------------------
    def delete(self, name: str, force: bool = False, prune: bool = True) -> list[dict[str, str]]:
        users = self._users()
        img = self.get(name)
        record = DeleteRecord()
        using = users.containers_using(img.id)
        refs = self.store.refs_of(img.id)
        by_id = _is_id_prefix(img.id, name)
        removed_ref = False
        if not by_id:
            if using and len(refs) == 1 and not force:
                cid = using[0][0]
                raise Conflict(
                    f'conflict: unable to remove repository reference "{name}" (must force) - '
                    f"container {cid[:12]} is using its referenced image {_short(img.id)}"
                )
            ref = reference.parse(name)
            if str(ref) not in self.store.refs:
                raise NotFound(f"No such image: {name}")
            self.store.untag(ref)
            record.untag(ref.familiar())
            self._emit("untag", img.id, ref.familiar())
            remaining = self.store.refs_of(img.id)
            same_repo = [r for r in remaining if r.name == ref.name]
            if ref.tag and same_repo and all(r.digest and not r.tag for r in same_repo) \
                    and not any(r.tag for r in remaining if r.name == ref.name):
                # Docker: once the last tag of a repository goes, its digest references go too
                for r in same_repo:
                    self.store.untag(r)
                    record.untag(r.familiar())
                    self._emit("untag", img.id, r.familiar())
            if self.store.refs_of(img.id):
                return record.items
            removed_ref = True
        elif _all_in_one_repository(refs):
            # Docker checks every conflict but the tags themselves before it removes them, so a
            # refused delete (a running container, say) leaves the image as it was.
            conflict = self._conflict(img, hard_only=force, ignore_refs=True)
            if conflict is not None:
                raise conflict
            for ref in refs:
                self.store.untag(ref)
                record.untag(ref.familiar())
                self._emit("untag", img.id, ref.familiar())
        self._delete_helper(img, record, force, prune, quiet=removed_ref)
        return record.items

    def _conflict(self, img: Image, hard_only: bool, ignore_refs: bool = False) -> Conflict | None:
        users = self._users()
        if self.store.children(img.id):
            return Conflict(f"conflict: unable to delete {_short(img.id)} (cannot be forced) - image has dependent child images")
        using = users.containers_using(img.id)
        for cid, running in using:
            if running:
                return Conflict(
                    f"conflict: unable to delete {_short(img.id)} (cannot be forced) - "
                    f"image is being used by running container {cid[:12]}"
                )
        if hard_only:
            return None
        if self.store.refs_of(img.id) and not ignore_refs:
            return Conflict(
                f"conflict: unable to delete {_short(img.id)} (must be forced) - image is referenced in multiple repositories"
            )
        for cid, _running in using:
            return Conflict(
                f"conflict: unable to delete {_short(img.id)} (must be forced) - "
                f"image is being used by stopped container {cid[:12]}"
            )
        return None

    def _delete_helper(self, img: Image, record: DeleteRecord, force: bool, prune: bool, quiet: bool) -> None:
        conflict = self._conflict(img, hard_only=force)
        if conflict is not None:
            if quiet and (not self.store.dangling(img) or self._users().containers_using(img.id)):
                return
            raise conflict
        parent = self.store.images.get(img.parent) if img.parent else None
        for ref in self.store.refs_of(img.id):
            self.store.untag(ref)
            record.untag(ref.familiar())
            self._emit("untag", img.id, ref.familiar())
        removed_layers = self.store.delete(img.id, self._users().layers_in_use)
        record.delete(img.id)
        for chain in removed_layers:
            record.delete(chain)
        self._emit("delete", img.id, img.id)
        if prune and parent is not None and self.store.dangling(parent) and not self.store.children(parent.id):
            try:
                self._delete_helper(parent, record, False, True, True)
            except Conflict:
                pass

    def prune(self, filters: Filters) -> tuple[list[dict[str, str]], int]:
        filters.validate({"dangling", "until", "label", "label!"})
        dangling_only = filters.bool_value("dangling", default=True)
        until = filters.time_value("until")
        users = self._users()
        items: list[dict[str, str]] = []
        reclaimed = 0
        candidates = sorted(self.store.images.values(), key=lambda i: -i.created_ns)
        for img in candidates:
            if img.id not in self.store.images:
                continue
            if dangling_only and not self.store.dangling(img):
                continue
            if users.containers_using(img.id) or self.store.children(img.id):
                continue
            if until is not None and img.created_ns >= until:
                continue
            if not filters.match_labels(img.labels):
                continue
            record = DeleteRecord()
            try:
                if not dangling_only:
                    for ref in self.store.refs_of(img.id):
                        self.store.untag(ref)
                        record.untag(ref.familiar())
                        self._emit("untag", img.id, ref.familiar())
                self._delete_helper(img, record, False, True, False)
            except Conflict:
                continue
            reclaimed += img.size
            items.extend(record.items)
        self.events.publish("image", "prune", "", {"reclaimed": str(reclaimed)})
        return items, reclaimed

    def _users(self) -> ImageUsers:
        assert self.users is not None, "ImageService.users is wired by the daemon"
        return self.users

    # -- listing -----------------------------------------------------------------
    def list(self, filters: Filters, all_images: bool = False) -> list[Image]:
        filters.validate({"dangling", "label", "label!", "before", "since", "reference", "until"})
        dangling = filters.bool_value("dangling", default=None)
        before = self.get(filters.one("before")).created_ns if filters.has("before") else None
        since = self.get(filters.one("since")).created_ns if filters.has("since") else None
        until = filters.time_value("until")
        patterns = filters.values("reference")
        out = []
        for img in self.store.images.values():
            is_dangling = self.store.dangling(img)
            if dangling is True and not is_dangling:
                continue
            if dangling is False and is_dangling:
                continue
            if not all_images and is_dangling and self.store.children(img.id):
                continue  # intermediate build images are hidden without -a
            if before is not None and img.created_ns >= before:
                continue
            if since is not None and img.created_ns <= since:
                continue
            if until is not None and img.created_ns >= until:
                continue
            if not filters.match_labels(img.labels):
                continue
            if patterns and not any(matches_reference(p, self.store.repo_tags(img.id)) for p in patterns):
                continue
            out.append(img)
        out.sort(key=lambda i: (-i.created_ns, i.id))
        return out

    def history(self, name: str) -> builtins.list[dict[str, Any]]:  # `list` is a method here
        from engine.images.config import layer_history_pairs

        img = self.get(name)
        pairs = layer_history_pairs(img.config)
        layer_sizes = [self.store.layers.get(c).size for c in img.chain]
        rows: list[dict[str, Any]] = []
        for entry, layer_index in pairs:
            created = entry.get("created") or ""
            try:
                from engine.util.timefmt import parse_rfc3339

                created_s = parse_rfc3339(created) // 1_000_000_000 if created else 0
            except InvalidArgument:
                created_s = 0
            rows.append({
                "Comment": entry.get("comment", ""),
                "Created": created_s,
                "CreatedBy": entry.get("created_by", ""),
                "Id": "<missing>",
                "Size": layer_sizes[layer_index] if layer_index is not None and layer_index < len(layer_sizes) else 0,
                "Tags": None,
            })
        rows.reverse()
        if rows:
            rows[0]["Id"] = img.id
            rows[0]["Tags"] = self.store.repo_tags(img.id) or None
        # Local parent images (from builds) give their IDs to the rows they made.
        parent = self.store.images.get(img.parent) if img.parent else None
        index = 1
        while parent is not None and index < len(rows):
            n_parent = len(layer_history_pairs(parent.config))
            pos = len(rows) - n_parent
            if 0 < pos < len(rows):
                rows[pos]["Id"] = parent.id
                rows[pos]["Tags"] = self.store.repo_tags(parent.id) or None
            parent = self.store.images.get(parent.parent) if parent.parent else None
            index += 1
        return rows

    def touch_tag_time(self, img: Image) -> None:
        img.last_tag_time_ns = now_ns()


def _is_id_prefix(iid: str, name: str) -> bool:
    hexid = iid.removeprefix("sha256:")
    text = name.removeprefix("sha256:")
    return bool(text) and hexid.startswith(text) and reference.looks_like_id_prefix(name)


def _all_in_one_repository(refs: list[reference.Reference]) -> bool:
    if not refs:
        return True
    names = {r.name for r in refs}
    tagged = [r for r in refs if r.tag]
    return len(names) == 1 and len(tagged) <= 1


def matches_reference(pattern: str, repo_tags: list[str]) -> bool:
    for tag in repo_tags:
        name, _, _ = tag.rpartition(":")
        if fnmatch.fnmatchcase(tag, pattern) or fnmatch.fnmatchcase(name, pattern):
            return True
    return False
