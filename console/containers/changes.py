"""A container's filesystem drift: what changed since it was created from its image (`docker diff`).

The engine answers `GET /containers/{id}/changes` with Docker's list of
`{"Path", "Kind"}` (Kind 0 changed, 1 added, 2 deleted; null when nothing
changed), computed from the container's writable layer. Docker's semantics are
kept as they are: every change counts, in /tmp and /run too; the counts tell
how much. The container page's "Changes" tab loads `changes_panel` lazily and
filters it by path and kind; the REST API serves the same
(console/api/container_changes.py); the containers list marks running
containers with changes as "snowflakes" (console/containers/drift.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from console.accounts.access import requires
from console.endpoints.client import EngineError, endpoint_client
from console.endpoints.models import Endpoint

KINDS = {0: "C", 1: "A", 2: "D"}  # Docker's Kind numbers → the letters `docker diff` prints
KIND_NAMES = {"A": "added", "C": "changed", "D": "deleted"}
SHOWN_LIMIT = 2000  # rows the page lists at most (the counts are always whole)


@dataclass(frozen=True)
class Change:
    path: str
    kind: str  # A | C | D

    @property
    def kind_name(self) -> str:
        return KIND_NAMES[self.kind]

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "kind": self.kind}


@dataclass(frozen=True)
class ChangeCounts:
    added: int = 0
    changed: int = 0
    deleted: int = 0

    @property
    def total(self) -> int:
        return self.added + self.changed + self.deleted

    def as_dict(self) -> dict[str, int]:
        return {"added": self.added, "changed": self.changed, "deleted": self.deleted, "total": self.total}


def parse_changes(answer: list[dict[str, Any]] | None) -> list[Change]:
    """The engine's answer as Changes, sorted by path (null → none). Unknown kinds count as changed."""
    found = [Change(str(item.get("Path", "")), KINDS.get(int(item.get("Kind", 0)), "C")) for item in answer or []]
    return sorted(found, key=lambda c: c.path)


def count(changes: list[Change]) -> ChangeCounts:
    kinds = [c.kind for c in changes]
    return ChangeCounts(added=kinds.count("A"), changed=kinds.count("C"), deleted=kinds.count("D"))


def select(changes: list[Change], q: str = "", kind: str = "") -> list[Change]:
    """The changes whose path contains `q` (case-insensitive) and whose kind is `kind` (A, C, D; "" = any)."""
    q = q.strip().lower()
    kind = kind.upper() if kind.upper() in KIND_NAMES else ""
    return [c for c in changes if (not q or q in c.path.lower()) and (not kind or c.kind == kind)]


def fetch_changes(endpoint: Endpoint, cid: str) -> list[Change]:
    """The container's changes from its engine; EngineError (404 for an unknown container) otherwise."""
    with endpoint_client(endpoint) as client:
        return parse_changes(client.api.diff(cid))


@requires("container.inspect", resource="cid")
@require_GET
def changes_panel(request: HttpRequest, eid: int, cid: str) -> HttpResponse:
    """The Changes tab's content, ?q=&kind= filtering the list (htmx swaps the whole panel)."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    q, kind = (request.GET.get("q") or "")[:200], (request.GET.get("kind") or "").upper()
    context: dict[str, Any] = {"endpoint": endpoint, "cid": cid, "q": q, "kind": kind if kind in KIND_NAMES else "",
                               "kinds": list(KIND_NAMES.items()), "error": ""}
    try:
        changes = fetch_changes(endpoint, cid)
    except EngineError as exc:
        if exc.status == 404:
            raise Http404(f"No container {cid} on {endpoint.name}.") from None
        context["error"] = exc.message
        return render(request, "containers/detail_changes.html", context)
    shown = select(changes, q, kind)
    context.update(counts=count(changes), shown=shown[:SHOWN_LIMIT], matching=len(shown),
                   cut=len(shown) > SHOWN_LIMIT, filtered=bool(q.strip() or context["kind"]))
    return render(request, "containers/detail_changes.html", context)
