from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from engine.snapshots import tarsafe


def make_tar(entries: list[tuple[str, bytes, str]]) -> io.BytesIO:
    """entries: (name, kind, data-or-linkname) with kind in f/d/s/h/c."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            if kind == b"f":
                payload = data.encode()
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
                continue
            info.type = {b"d": tarfile.DIRTYPE, b"s": tarfile.SYMTYPE, b"h": tarfile.LNKTYPE}[kind]
            info.linkname = data
            tar.addfile(info)
    buf.seek(0)
    return buf


def test_it_extracts_files_dirs_and_links(tmp_path: Path) -> None:
    tar = make_tar([("etc/", b"d", ""), ("etc/passwd", b"f", "root"), ("bin/sh", b"f", "#!"),
                    ("bin/ash", b"h", "bin/sh"), ("usr/bin", b"s", "/bin")])
    tarsafe.extract(tar, str(tmp_path))
    assert (tmp_path / "etc/passwd").read_text() == "root"
    assert os.stat(tmp_path / "bin/ash").st_ino == os.stat(tmp_path / "bin/sh").st_ino
    assert os.readlink(tmp_path / "usr/bin") == "/bin"


@pytest.mark.parametrize("entries", [
    [("../evil", b"f", "x")],
    [("a/../../evil", b"f", "x")],
    [("/etc/evil", b"f", "x")],
    [("link", b"s", "../../../../tmp"), ("link/evil", b"f", "x")],
    [("x", b"h", "../../etc/passwd")],
    [("x", b"h", "not/in/archive")],
])
def test_it_refuses_escapes(tmp_path: Path, entries: list[tuple[str, bytes, str]]) -> None:
    target = tmp_path / "target"
    with pytest.raises(tarsafe.UnsafeArchive):
        tarsafe.extract(make_tar(entries), str(target))
    assert not (tmp_path / "evil").exists()


def test_absolute_symlinks_resolve_inside_the_target(tmp_path: Path) -> None:
    target = tmp_path / "t"
    tarsafe.extract(make_tar([("real/", b"d", ""), ("abs", b"s", "/real"), ("abs/file", b"f", "ok")]), str(target))
    assert (target / "real/file").read_text() == "ok"


def test_whiteouts_become_overlay_whiteouts(tmp_path: Path) -> None:
    tar = make_tar([("dir/", b"d", ""), ("dir/.wh.gone", b"f", ""), ("opq/", b"d", ""), ("opq/.wh..wh..opq", b"f", "")])
    tarsafe.extract(tar, str(tmp_path))
    st = os.lstat(tmp_path / "dir/gone")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(tmp_path / "opq", "trusted.overlay.opaque") == b"y"


def test_garbage_is_not_a_tar(tmp_path: Path) -> None:
    with pytest.raises(tarsafe.UnsafeArchive):
        tarsafe.extract(io.BytesIO(b"this is not a tar archive at all" * 100), str(tmp_path))
