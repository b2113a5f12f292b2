"""A volume's files, read-only: list a directory, download one file — through a helper container (helper.py).

Paths are *volume paths*: "/" is the volume's root, "/logs/app.log" a file in
it. `volume_path()` normalises what a person or a URL gives and refuses `..`
and NUL bytes; the helper then resolves the path (links included) and refuses
one that leads out of the volume. The helper sees nothing of the host anyway:
only the volume, mounted read-only.

`list_dir` returns a `Listing`; `open_file` returns a `Download` whose chunks
stream the file and whose `close()` removes the helper (callers must close it,
also when they never read it).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from console.endpoints.models import Endpoint
from console.volumes.helper import MOUNT, VolumeAccessError
from console.volumes.session import HelperSession

MAX_ENTRIES = 1000  # entries shown for one directory
MAX_LISTING_BYTES = 4 * 1024 * 1024  # stat output read at most
STATUS_OF_EXIT = {44: 404, 45: 400, 46: 400}  # the scripts' exit codes below → HTTP-like statuses

# Sets r to the real path of volume path $1, or exits 44 (missing) / 45 (leads out of the volume).
RESOLVE = f"""
p="{MOUNT}$1"
[ -e "$p" ] || {{ echo "no such file or directory: $1" >&2; exit 44; }}
r=$(realpath "$p") || exit 44
case "$r" in {MOUNT}|{MOUNT}/*) ;; *) echo "$1 leads out of the volume through a link" >&2; exit 45;; esac
"""
LIST_SCRIPT = RESOLVE + """
[ -d "$r" ] || { echo "$1 is not a directory" >&2; exit 46; }
cd "$r" && find . -mindepth 1 -maxdepth 1 -exec stat -c '%f %s %Y %n' {} +
"""
READ_SCRIPT = RESOLVE + """
[ -f "$r" ] || { echo "$1 is not a regular file" >&2; exit 46; }
stat -c 'OK %s' "$r" && exec cat "$r"
"""
STAT_LINE = re.compile(rb"^([0-9a-f]+) (\d+) (\d+) \./(.*)$", re.DOTALL)
KINDS = {0o040000: "dir", 0o100000: "file", 0o120000: "link"}


@dataclass(frozen=True)
class Entry:
    name: str
    path: str  # volume path
    kind: str  # dir | file | link | other
    size: int
    modified: datetime


@dataclass(frozen=True)
class Listing:
    path: str
    entries: list[Entry]
    truncated: bool  # more entries than shown

    @property
    def crumbs(self) -> list[tuple[str, str]]:
        """(name, path) from the root to this directory, for a breadcrumb."""
        out, parts = [("/", "/")], [p for p in self.path.split("/") if p]
        for i, part in enumerate(parts):
            out.append((part, "/" + "/".join(parts[: i + 1])))
        return out

    @property
    def parent(self) -> str:
        return posixpath.dirname(self.path) if self.path != "/" else ""


@dataclass
class Download:
    name: str
    size: int
    chunks: Iterator[bytes]
    session: HelperSession

    def close(self) -> None:
        self.session.close()


def volume_path(raw: str) -> str:
    """`raw` as a normalised volume path ("/" for empty); ValueError for `..`, NUL or a path that is too long."""
    raw = (raw or "").strip()
    if "\x00" in raw:
        raise ValueError("a path cannot contain NUL bytes")
    if any(part == ".." for part in raw.split("/")):
        raise ValueError("a path cannot contain '..'")
    if len(raw) > 4096:
        raise ValueError("the path is too long")
    return posixpath.normpath("/" + raw.lstrip("/")) if raw.strip("/") else "/"


def parse_listing(directory: str, output: bytes) -> tuple[list[Entry], bool]:
    """Entries from `find -exec stat -c '%f %s %Y %n'` output, directories first, then by name; and whether truncated.

    A name with a newline in it spans lines: a line that does not start like a
    stat line continues the previous name.
    """
    records: list[list[bytes]] = []
    for line in output.split(b"\n"):
        m = STAT_LINE.match(line)
        if m:
            records.append(list(m.groups()))
        elif records and line:
            records[-1][3] += b"\n" + line
    entries = [_entry(directory, *r) for r in records]
    entries.sort(key=lambda e: (e.kind != "dir", e.name.lower(), e.name))
    return entries[:MAX_ENTRIES], len(entries) > MAX_ENTRIES


def _entry(directory: str, mode: bytes, size: bytes, mtime: bytes, name: bytes) -> Entry:
    text = name.decode("utf-8", "replace")
    kind = KINDS.get(int(mode, 16) & 0o170000, "other")
    return Entry(name=text, path=posixpath.join(directory, text), kind=kind,
                 size=int(size) if kind == "file" else 0, modified=datetime.fromtimestamp(int(mtime), tz=UTC))


def _failure(session: HelperSession, what: str) -> VolumeAccessError:
    code = session.channel.exit_code()
    message = session.channel.error_text() or f"{what} failed (exit code {code})"
    return VolumeAccessError(message, STATUS_OF_EXIT.get(code or 0, 502))


def list_dir(endpoint: Endpoint, volume: str, path: str) -> Listing:
    """The entries of directory `path` of `volume`. Raises VolumeAccessError (404, 400) or EngineError."""
    path = volume_path(path)
    with HelperSession(endpoint, volume, ["sh", "-c", LIST_SCRIPT, "sh", path], purpose="browse") as session:
        output = bytearray()
        for chunk in session.channel.chunks():
            output += chunk
            if len(output) > MAX_LISTING_BYTES:
                break
        complete = len(output) <= MAX_LISTING_BYTES
        if complete and session.channel.exit_code() != 0:
            raise _failure(session, "listing the directory")
    entries, truncated = parse_listing(path, bytes(output[:MAX_LISTING_BYTES]))
    return Listing(path, entries, truncated or not complete)


def open_file(endpoint: Endpoint, volume: str, path: str) -> Download:
    """A regular file of `volume`, ready to stream; close the Download when done. Raises VolumeAccessError or EngineError."""
    path = volume_path(path)
    session = HelperSession(endpoint, volume, ["sh", "-c", READ_SCRIPT, "sh", path], purpose="download")
    try:
        first = session.channel.line()
        if first is None or not first.startswith(b"OK "):
            raise _failure(session, "reading the file")
        size = int(first[3:])
    except BaseException:
        session.close()
        raise
    return Download(posixpath.basename(path), size, session.stream(), session)
