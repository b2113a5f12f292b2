"""The images table: rows made from the engine's image and container lists, searched and sorted.

Pure functions of `GET /images/json` and `GET /containers/json?all=1` output. A row knows its tags
("<none>" ones dropped), the repo digests it was pulled by, and the containers that use it (by image
ID, as `docker ps` resolves them), so the page can say what a removal would hit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SORT_KEYS = ("tag", "size", "created")
NONE_TAG = "<none>:<none>"
NONE_DIGEST = "<none>@<none>"


@dataclass(frozen=True)
class UsedBy:
    id: str
    name: str
    state: str


@dataclass(frozen=True)
class ImageRow:
    id: str  # "sha256:<hex>"
    tags: tuple[str, ...]
    digests: tuple[str, ...]
    size: int
    created: datetime
    used_by: tuple[UsedBy, ...] = field(default_factory=tuple)
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def hex(self) -> str:
        return self.id.removeprefix("sha256:")

    @property
    def short_id(self) -> str:
        return self.hex[:12]

    @property
    def dangling(self) -> bool:
        return not self.tags

    @property
    def in_use(self) -> bool:
        return bool(self.used_by)

    @property
    def running_users(self) -> int:
        return sum(1 for u in self.used_by if u.state in ("running", "paused", "restarting"))

    def digest_for(self, tag: str) -> str:
        """The digest this image was pulled by from `tag`'s repository ("" when it was built or loaded)."""
        repo = repository_of(tag)
        for d in self.digests:
            name, _, digest = d.partition("@")
            if name == repo:
                return digest
        return ""


def repository_of(tag: str) -> str:
    """ "127.0.0.1:5000/app:v1" → "127.0.0.1:5000/app" (a port's colon is not a tag's)."""
    name, _, digest = tag.partition("@")
    if digest:
        return name
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def used_by_index(containers: list[dict[str, Any]]) -> dict[str, list[UsedBy]]:
    """Containers by the image ID they run."""
    index: dict[str, list[UsedBy]] = {}
    for c in containers:
        names = c.get("Names") or []
        name = (names[0] if names else c.get("Id", "")[:12]).lstrip("/")
        index.setdefault(c.get("ImageID", ""), []).append(UsedBy(c.get("Id", ""), name, c.get("State", "")))
    return index


def row(summary: dict[str, Any], used: dict[str, list[UsedBy]]) -> ImageRow:
    tags = tuple(t for t in summary.get("RepoTags") or [] if t and t != NONE_TAG)
    digests = tuple(d for d in summary.get("RepoDigests") or [] if d and d != NONE_DIGEST)
    users = sorted(used.get(summary["Id"], []), key=lambda u: u.name)
    return ImageRow(
        id=summary["Id"], tags=tuple(sorted(tags)), digests=digests, size=int(summary.get("Size") or 0),
        created=datetime.fromtimestamp(int(summary.get("Created") or 0), tz=UTC), used_by=tuple(users),
        labels=summary.get("Labels") or {},
    )


def rows(images: list[dict[str, Any]], containers: list[dict[str, Any]]) -> list[ImageRow]:
    used = used_by_index(containers)
    return [row(s, used) for s in images]


def matches(r: ImageRow, q: str) -> bool:
    q = q.lower()
    return r.hex.startswith(q.removeprefix("sha256:")) or any(q in t.lower() for t in r.tags) or any(
        q in u.name.lower() for u in r.used_by)


SORTERS = {
    "tag": lambda r: (r.dangling, (r.tags[0] if r.tags else r.hex).lower()),
    "size": lambda r: (r.size, r.hex),
    "created": lambda r: (r.created, r.hex),
}


def select(all_rows: list[ImageRow], q: str = "", sort: str = "tag", desc: bool = False,
           dangling: bool = True) -> list[ImageRow]:
    """The rows matching `q` in the asked order; untagged (dangling) ones only when `dangling`."""
    found = [r for r in all_rows if (not q or matches(r, q)) and (dangling or not r.dangling)]
    return sorted(found, key=SORTERS.get(sort, SORTERS["tag"]), reverse=desc)


def find(all_rows: list[ImageRow], image_id: str) -> ImageRow | None:
    """The row whose ID starts with `image_id` (hex, with or without "sha256:"), if exactly one does."""
    prefix = image_id.removeprefix("sha256:").lower()
    hits = [r for r in all_rows if r.hex.startswith(prefix)] if prefix else []
    return hits[0] if len(hits) == 1 else None
