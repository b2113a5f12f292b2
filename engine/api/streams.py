"""Response bodies that stream: JSON lines (progress, events) and Docker's mux frames."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any


def json_line(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\r\n"


def error_line(message: str, code: int | None = None) -> bytes:
    detail: dict[str, Any] = {"message": message}
    if code is not None:
        detail["code"] = code
    return json_line({"errorDetail": detail, "error": message})


async def json_lines(items: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    async for item in items:
        yield json_line(item)
