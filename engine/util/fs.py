"""Crash-safe file writes: a reader sees the old content or the new, never a mix."""

from __future__ import annotations

import json
import os
import secrets
from typing import Any


def atomic_write_bytes(path: str, data: bytes, mode: int = 0o600) -> None:
    tmp = f"{path}.tmp-{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def atomic_write_json(path: str, obj: Any, mode: int = 0o600) -> None:
    atomic_write_bytes(path, json.dumps(obj, separators=(",", ":")).encode(), mode)


def read_json(path: str, default: Any = None) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return default
