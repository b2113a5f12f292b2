"""Writing small secret files (keys, first passwords) that only their owner may read."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_private_file(path: Path, text: str, *, replace: bool = True) -> bool:
    """Write `text` to `path` with mode 0600, atomically: readers see the old file or the new one, whole.

    With `replace=False` an existing file wins (even one written a moment ago by
    another process) and False is returned; the caller should read it. The
    directory is created if needed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp makes it 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)  # unlike rename, fails if `path` exists
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def read_or_create_secret(path: Path, make: Callable[[], str]) -> str:
    """The secret stored in `path`, made with `make()` and stored (0600) the first time."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    write_private_file(path, make() + "\n", replace=False)
    return path.read_text(encoding="utf-8").strip()
