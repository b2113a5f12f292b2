"""Endpoint-wide numbers seen through the policy: a non-administrator's dashboard counts only what they may see.

`scoped_board(user, endpoint, board)` takes the dashboard the engine's totals made
(console/endpoints/dashboard.py) and, for anyone but an administrator on the endpoint,
recounts containers (running, paused, stopped, health), volumes, networks and images
from the lists filtered by console/accounts/policy.visible; recent events are kept only
when they name something the user may see.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from console.accounts import policy
from console.endpoints.client import EngineError, endpoint_client


def _lists(endpoint: Any) -> dict[str, list[dict[str, Any]]]:
    with endpoint_client(endpoint) as client:
        api = client.api
        return {"container": api.containers(all=True), "volume": (api.volumes() or {}).get("Volumes") or [],
                "network": api.networks() or [], "image": api.images()}


def _key(kind: str) -> Any:
    return (lambda v: v.get("Name", "")) if kind == "volume" else (lambda item: item.get("Id", ""))


def scoped_board(user: Any, endpoint: Any, board: Any) -> Any:
    """The dashboard `board` as `user` may see it (unchanged for administrators or an engine that failed)."""
    if policy.role_on(user, endpoint) == policy.ADMIN or not board.status.up:
        return board
    try:
        lists = {kind: policy.visible(user, endpoint, kind, items, _key(kind)) for kind, items in _lists(endpoint).items()}
    except EngineError:
        return board
    from console.endpoints.dashboard import count_health

    containers = lists["container"]
    states = [c.get("State", "") for c in containers]
    status = replace(board.status, containers=len(containers), containers_running=states.count("running"),
                     containers_paused=states.count("paused"),
                     containers_stopped=len(states) - states.count("running") - states.count("paused"),
                     images=len(lists["image"]), volumes=len(lists["volume"]), networks=len(lists["network"]))
    names = {n.lstrip("/") for c in containers for n in c.get("Names") or []}
    names |= {v.get("Name", "") for v in lists["volume"]} | {n.get("Name", "") for n in lists["network"]}
    events = [e for e in board.events if e.name in names]
    return replace(board, status=status, events=events, image_bytes=sum(i.get("Size", 0) or 0 for i in lists["image"]),
                   **count_health(containers))
