"""A container that writes 200 MB of log does not grow the engine's memory."""

from __future__ import annotations

import subprocess

from tests.support.engine import DOCKER, EngineProcess

LINE = "x" * 99
SIZE = 200 * 1024 * 1024


def _vm(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def test_200mb_of_log_is_streamed_not_buffered(engine: EngineProcess, docker) -> None:  # type: ignore[no-untyped-def]
    assert engine.proc is not None
    pid = engine.proc.pid
    cid = docker("run", "-d", "busybox", "sh", "-c", f"yes {LINE} | head -c {SIZE}; echo; echo last-line >&2",
                 check=True).out
    assert docker("wait", cid, timeout=120).out == "0"
    before = _vm(pid, "VmRSS")
    with open("/dev/null", "wb") as sink:
        proc = subprocess.run([DOCKER, "logs", cid], env=engine.env, stdout=sink, stderr=subprocess.PIPE, timeout=120)
    assert proc.returncode == 0
    assert proc.stderr == b"last-line\n"
    peak = _vm(pid, "VmHWM")
    assert peak - before < 48 * 1024 * 1024, f"engine memory grew by {(peak - before) >> 20} MB"
    out = subprocess.run([DOCKER, "logs", "--tail", "2", cid], env=engine.env, capture_output=True, timeout=60)
    assert out.stdout.endswith(f"{LINE}\n\n".encode()) or out.stdout.endswith(b"\n")
    assert out.stderr == b"last-line\n"
