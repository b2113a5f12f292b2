"""Build contexts for `POST /build`: a Dockerfile typed in the editor, an uploaded tar, or both.

- `dockerfile_only(text)`: an in-memory tar holding just the Dockerfile (the context is empty).
- `with_dockerfile(src, text, name, dst)`: the uploaded tar (any compression tarfile reads) copied to
  `dst`, uncompressed, with the editor's text as `name` in place of the tar's own — streamed member
  by member, so a large context is never held in memory.
- `check_archive(path)`: a message when an upload is not a tar archive.
Names are checked (`dockerfile_name`): relative, inside the context.
"""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path, PurePosixPath


def dockerfile_name(name: str) -> str:
    """The Dockerfile's path inside the context, normalised; ValueError for one outside it."""
    path = PurePosixPath(name.strip() or "Dockerfile")
    if path.is_absolute() or ".." in path.parts or str(path) in ("", "."):
        raise ValueError("Give a path inside the context, e.g. Dockerfile or docker/Dockerfile.prod.")
    return str(path)


def _dockerfile_member(text: str, name: str) -> tuple[tarfile.TarInfo, io.BytesIO]:
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
    return info, io.BytesIO(data)


def dockerfile_only(text: str, name: str = "Dockerfile") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.addfile(*_dockerfile_member(text, name))
    return buf.getvalue()


def with_dockerfile(src: Path, text: str, name: str, dst: Path) -> None:
    """Copy the context `src` to `dst` (plain tar), replacing `name` with `text`."""
    target = dockerfile_name(name)
    with tarfile.open(src, mode="r|*") as source, tarfile.open(dst, mode="w") as out:
        for member in source:
            if str(PurePosixPath(member.name)) == target:
                continue
            out.addfile(member, source.extractfile(member) if member.isreg() else None)
        out.addfile(*_dockerfile_member(text, target))


def check_archive(path: Path) -> str:
    """"" when `path` is a tar archive (plain, gzip, bzip2 or xz); else what is wrong with it."""
    try:
        with tarfile.open(path, mode="r:*") as tar:
            tar.next()
    except (tarfile.TarError, EOFError, OSError) as exc:
        return f"This is not a tar archive ({exc})."
    return ""
