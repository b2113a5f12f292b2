"""How conmon's log records become `docker logs` output (pure: no engine)."""

from __future__ import annotations

import asyncio
import struct

from engine.containers.logs import LogOptions, read_logs


def _read(tmp_path, records: list[str], **opts: object) -> bytes:  # type: ignore[no-untyped-def]
    path = tmp_path / "ctr.log"
    path.write_text("".join(r + "\n" for r in records))

    async def collect() -> bytes:
        return b"".join([c async for c in read_logs(str(path), LogOptions(**opts), False, lambda: False)])  # type: ignore[arg-type]

    return asyncio.run(collect())


def _frames(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    while data:
        stream, size = struct.unpack(">BxxxL", data[:8])
        out.append((stream, data[8:8 + size]))
        data = data[8 + size:]
    return out


TS = "2026-11-27T10:00:00.{:09d}Z"


def test_a_line_split_by_pipe_reads_is_sent_whole(tmp_path) -> None:  # type: ignore[no-untyped-def]
    records = [f"{TS.format(1)} stdout P li", f"{TS.format(2)} stderr F oops", f"{TS.format(3)} stdout F ne 923"]
    frames = _frames(_read(tmp_path, records, stdout=True, stderr=True))
    assert frames == [(2, b"oops\n"), (1, b"line 923\n")]


def test_timestamps_prefix_whole_lines_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    records = [f"{TS.format(1)} stdout P a", f"{TS.format(2)} stdout F b"]
    frames = _frames(_read(tmp_path, records, stdout=True, timestamps=True))
    assert frames == [(1, b"2026-11-27T10:00:00.000000001Z ab\n")]


def test_unterminated_last_line_is_still_shown(tmp_path) -> None:  # type: ignore[no-untyped-def]
    records = [f"{TS.format(1)} stdout F one", f"{TS.format(2)} stdout P two"]
    assert _frames(_read(tmp_path, records, stdout=True)) == [(1, b"one\n"), (1, b"two")]


def test_long_lines_are_not_held_back_whole(tmp_path) -> None:  # type: ignore[no-untyped-def]
    piece = "x" * 8192
    records = [f"{TS.format(i)} stdout P {piece}" for i in range(3)] + [f"{TS.format(9)} stderr F e"]
    records.append(f"{TS.format(10)} stdout F y")
    frames = _frames(_read(tmp_path, records, stdout=True, stderr=True))
    # the first 16 KiB went out before stderr's line; the rest of the stdout line after it
    assert frames == [(1, piece.encode() * 2), (2, b"e\n"), (1, piece.encode() + b"y\n")]
