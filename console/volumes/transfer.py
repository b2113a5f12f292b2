"""Volume backup and restore: export a volume as a tar, import a tar into a volume — through a helper container.

Both are plain functions of (endpoint, volume name, a stream, a progress
callback), so a page can run them while it streams, and a background job can
run them as they are:

    export_volume(endpoint, "data", open("data.tar", "wb"), progress)
    import_volume(endpoint, "data", open("data.tar", "rb"), progress)

`progress(done, total)` gets bytes done and the total when known (None when not).

Export runs `tar -c` in a read-only helper and streams its stdout. Import first
checks the archive (every member a relative path inside the volume, no device
files; gzip is unpacked) and then feeds it, re-written as a plain GNU tar, to
`tar -x` in a writable helper through exec stdin.

Why the stdin protocol is paced: Berth engines at the time of writing drop
stdin sent before an exec's process is ready and cut stdin messages longer than
32 KiB (conmon's attach buffer). So the receiver script says "R" when ready,
and every piece (a length line, then at most CHUNK bytes) is acknowledged with
"A" before the next is sent: at most one small message is ever in flight. It
costs a round trip per CHUNK and works the same on Docker engines.
"""

from __future__ import annotations

import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from console.endpoints.models import Endpoint
from console.volumes.helper import MOUNT, VolumeAccessError
from console.volumes.session import HelperSession

Progress = Callable[[int, "int | None"], None]
CHUNK = 16_384  # bytes of archive per stdin message (plus its length line), well under conmon's 32 KiB
NOT_A_TAR = "not a tar archive (plain, or compressed with gzip, bzip2 or xz)"
EXPORT_ARGV = ["tar", "-c", "-C", MOUNT, "."]
RECEIVER = f"""
mkfifo /tmp/in || exit 47
tar -x --numeric-owner -C {MOUNT} -f /tmp/in 2>/tmp/err &
exec 3>/tmp/in
echo R
while read -r n && [ "$n" -gt 0 ]; do head -c "$n" >&3 || break; echo A; done
exec 3>&-
wait $!; s=$?
cat /tmp/err >&2
echo "E $s"
"""


@dataclass(frozen=True)
class Imported:
    members: int  # files, directories and links written
    bytes: int  # archive bytes sent


def _no_progress(done: int, total: int | None) -> None:
    """Progress that nobody follows."""


def open_export(endpoint: Endpoint, volume: str) -> HelperSession:
    """A session whose `stream()` yields the volume as a tar; close it when done (streaming views hold it)."""
    return HelperSession(endpoint, volume, EXPORT_ARGV, purpose="export")


def export_volume(endpoint: Endpoint, volume: str, out: BinaryIO, progress: Progress = _no_progress,
                  total: int | None = None) -> int:
    """Write `volume` as a tar to `out`; the bytes written. `total`: the volume's size when known (for progress)."""
    done = 0
    session = open_export(endpoint, volume)
    for chunk in session.stream("exporting the volume"):
        out.write(chunk)
        done += len(chunk)
        progress(done, total)
    return done


def unsafe_member(member: tarfile.TarInfo) -> str:
    """Why `member` may not be imported, or "" when it may (pure)."""
    name = member.name
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or ".." in parts:
        return f"{name!r} is not a path inside the volume"
    if member.ischr() or member.isblk():
        return f"{name!r} is a device file"
    if member.islnk() and (member.linkname.startswith("/") or ".." in member.linkname.split("/")):
        return f"{name!r} is a hard link to {member.linkname!r}, outside the archive"
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk() or member.isfifo()):
        return f"{name!r} has a kind of entry that cannot be imported"
    return ""


def check_archive(source: BinaryIO) -> int:
    """Read the whole archive once and refuse it (VolumeAccessError 400) if it is not a tar or has an unsafe member.

    Returns the number of members; leaves `source` at its start. Needs a seekable source.
    """
    try:
        archive = tarfile.open(fileobj=source, mode="r:*")  # noqa: SIM115 - closed below; opening alone may fail
    except (tarfile.TarError, EOFError) as exc:
        raise VolumeAccessError(NOT_A_TAR, 400) from exc
    with archive:
        count = _check_members(archive)
    source.seek(0)
    return count


def _check_members(archive: tarfile.TarFile) -> int:
    count = 0
    try:
        for member in archive:
            problem = unsafe_member(member)
            if problem:
                raise VolumeAccessError(f"the archive cannot be imported: {problem}", 400)
            count += 1
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise VolumeAccessError(f"the archive is damaged: {exc}", 400) from None
    return count


class _CountingReader:
    """Reads `source`, counting bytes for progress."""

    def __init__(self, source: BinaryIO, progress: Progress, total: int | None) -> None:
        self.source, self.progress, self.total, self.done = source, progress, total, 0

    def read(self, n: int = -1) -> bytes:
        data = self.source.read(n)
        self.done += len(data)
        self.progress(self.done, self.total)
        return data


class _PacedSender:
    """A file-like sink for tarfile: sends what it is given in acknowledged CHUNK-sized pieces (see the module doc)."""

    def __init__(self, session: HelperSession) -> None:
        self.session = session
        self.buffer = bytearray()
        self.sent = 0

    def write(self, data: bytes) -> int:
        self.buffer += data
        while len(self.buffer) >= CHUNK:
            self._send(bytes(self.buffer[:CHUNK]))
            del self.buffer[:CHUNK]
        return len(data)

    def _send(self, piece: bytes) -> None:
        self.session.channel.send(b"%d\n" % len(piece) + piece)
        answer = self.session.channel.line()
        if answer != b"A":
            raise self._failed(answer)
        self.sent += len(piece)

    def finish(self) -> None:
        """Send what is left, end the input, and raise VolumeAccessError unless tar extracted everything."""
        if self.buffer:
            self._send(bytes(self.buffer))
            self.buffer.clear()
        self.session.channel.send(b"0\n")
        answer = self.session.channel.line()
        if answer != b"E 0":
            raise self._failed(answer)

    def _failed(self, answer: bytes | None) -> VolumeAccessError:
        message = self.session.channel.error_text() or (answer or b"the helper ended early").decode("utf-8", "replace")
        return VolumeAccessError(f"the import failed: {message}", 400 if "tar" in message else 502)


def import_volume(endpoint: Endpoint, volume: str, source: BinaryIO, progress: Progress = _no_progress,
                  total: int | None = None, checked: bool = False) -> Imported:
    """Extract the tar (or tar.gz) `source` into `volume` (which must exist); files already there are overwritten.

    A seekable source is checked whole before the volume is touched (unless the
    caller did that: `checked`); otherwise members are checked as they pass (an
    unsafe one stops the import midway).
    Raises VolumeAccessError (400 bad archive, 404 no volume) or EngineError.
    """
    if not checked and source.seekable():
        check_archive(source)
    members = 0
    with HelperSession(endpoint, volume, ["sh", "-c", RECEIVER], purpose="import", writable=True, stdin=True) as session:
        if session.channel.line() != b"R":
            raise VolumeAccessError(f"the import helper did not start: {session.channel.error_text()}", 502)
        sink = _PacedSender(session)
        try:
            with tarfile.open(fileobj=_CountingReader(source, progress, total), mode="r|*") as archive, \
                    tarfile.open(fileobj=sink, mode="w|", format=tarfile.GNU_FORMAT) as rewritten:  # type: ignore[call-overload]
                for member in archive:
                    problem = unsafe_member(member)
                    if problem:
                        raise VolumeAccessError(f"the archive cannot be imported: {problem}", 400)
                    rewritten.addfile(member, archive.extractfile(member) if member.isfile() else None)
                    members += 1
        except tarfile.ReadError as exc:
            raise VolumeAccessError(NOT_A_TAR if not members else f"the archive is damaged: {exc}", 400) from None
        except (tarfile.TarError, EOFError, zlib.error) as exc:
            raise VolumeAccessError(f"the archive is damaged: {exc}", 400) from None
        sink.finish()
    return Imported(members, sink.sent)

