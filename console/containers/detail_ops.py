"""One container, for its page, its websockets and the API: inspect it, rename it (audited).

The bulk actions (start, stop, …) are console.containers.operations' — the page
calls `run_actions` with one container, so the list and the page audit alike.
"""

from __future__ import annotations

from typing import Any

import docker.errors

from console.audit.log import record
from console.audit.models import Activity
from console.containers.parsing import check_container_name
from console.endpoints.client import EngineError, endpoint_client
from console.endpoints.models import Endpoint

# What the page's buttons say → what operations.run_actions calls them.
PAGE_ACTIONS = {"start": "start", "stop": "stop", "restart": "restart", "kill": "kill", "pause": "pause",
                "resume": "unpause", "remove": "remove"}


class RenameError(ValueError):
    """The new name was refused: by validation (status None) or by the engine (its status and words)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def inspect_container(endpoint: Endpoint, cid: str) -> dict[str, Any]:
    """The engine's inspect JSON for `cid` (an ID, a prefix or a name); EngineError with status 404 when missing."""
    with endpoint_client(endpoint) as client:
        return client.api.inspect_container(cid)


def rename_container(request: Any, endpoint: Endpoint, cid: str, new_name: str) -> str:
    """Rename `cid` to `new_name` and audit it (container.rename); the name the engine now shows.

    Raises RenameError for a name that is not valid or that the engine refused
    (e.g. already in use), EngineError when the engine cannot be reached. Every
    attempt is audited, failures included.
    """
    try:
        name = check_container_name(new_name)
        if not name:
            raise ValueError("a container needs a name")
    except ValueError as exc:
        record(request, "container.rename", cid, Activity.FAILURE, str(exc), endpoint, id=cid, new_name=new_name)
        raise RenameError(str(exc)) from None
    try:
        with endpoint_client(endpoint) as client:
            old = client.api.inspect_container(cid)
            old_name = old["Name"].lstrip("/")
            try:
                client.api.rename(old["Id"], name)
            except docker.errors.APIError as exc:
                message = str(exc.explanation or exc)
                record(request, "container.rename", old_name, Activity.FAILURE, message, endpoint,
                       id=old["Id"], new_name=name)
                raise RenameError(message, exc.status_code) from None
    except EngineError as exc:
        record(request, "container.rename", cid, Activity.FAILURE, exc.message, endpoint, id=cid, new_name=name)
        raise
    record(request, "container.rename", old_name, Activity.SUCCESS, f"renamed to {name}", endpoint,
           id=old["Id"], new_name=name)
    return name
