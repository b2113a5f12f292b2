"""Containers outlive the engine: kill -9 while 20 run, restart, nothing is lost."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.engine import EngineProcess

N = 20


@pytest.fixture
def own_engine() -> Iterator[EngineProcess]:
    """An engine of this test's own, since the test kills it."""
    if os.geteuid() != 0:
        pytest.skip("the engine needs root")
    e = EngineProcess()
    e.start()
    e.bootstrap_busybox()
    try:
        yield e
    finally:
        if e.proc is None or e.proc.poll() is not None:
            e.start()
        leaks = e.cleanup()
        assert not leaks, leaks


def test_kill9_with_20_running_then_restart(own_engine: EngineProcess) -> None:
    e = own_engine
    for i in range(N):
        e.docker("run", "-d", "--name", f"r{i}", "busybox", "sh", "-c",
                 f"echo started-{i}; i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.2; done", check=True)
    assert e.docker("run", "--name", "finished", "busybox", "sh", "-c", "echo bye; exit 3").returncode == 3
    e.docker("run", "-d", "--name", "dies-while-down", "busybox", "sh", "-c", "sleep 1; exit 42", check=True)
    e.kill9()
    time.sleep(1.5)  # dies-while-down ends while no engine watches it
    e.start()
    running = e.docker("ps", "--format", "{{.Names}}", check=True).out.split()
    assert sorted(running) == sorted(f"r{i}" for i in range(N))
    for i in (0, N - 1):
        logs = e.docker("logs", f"r{i}", check=True).stdout
        assert logs.startswith(f"started-{i}\ntick-1\n")
    gone = e.inspect("dies-while-down")["State"]
    assert (gone["Status"], gone["ExitCode"]) == ("exited", 42)
    assert e.inspect("finished")["State"]["ExitCode"] == 3
    assert e.docker("logs", "finished").stdout == "bye\n"
    e.docker("stop", "-t", "1", *[f"r{i}" for i in range(N)], check=True, timeout=120)
    states = json.loads(e.docker("inspect", *[f"r{i}" for i in range(N)], check=True).stdout)
    assert all(s["State"]["Status"] == "exited" for s in states)
    assert all(s["State"]["ExitCode"] == 137 for s in states)  # sh ignores SIGTERM as PID 1


def test_logs_follow_across_restart(own_engine: EngineProcess) -> None:
    e = own_engine
    e.docker("run", "-d", "--name", "fol", "busybox", "sh", "-c", "sleep 2; echo after-restart; sleep 1", check=True)
    e.kill9()
    e.start()
    r = e.docker("logs", "-f", "fol", timeout=20)
    assert r.stdout == "after-restart\n"
    assert e.inspect("fol")["State"]["Status"] == "exited"


def test_sigterm_leaves_containers_running(own_engine: EngineProcess) -> None:
    e = own_engine
    e.docker("run", "-d", "--name", "keep", "busybox", "sleep", "1000", check=True)
    pid = e.inspect("keep")["State"]["Pid"]
    assert e.proc is not None
    e.proc.send_signal(signal.SIGTERM)
    e.proc.wait(15)
    os.kill(pid, 0)  # still alive
    e.start()
    assert e.inspect("keep")["State"]["Pid"] == pid


def test_build_killed_part_way_leaves_a_consistent_store(own_engine: EngineProcess, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess as sp

    from tests.support.engine import DOCKER

    e = own_engine
    (tmp_path / "Dockerfile").write_text("FROM busybox\nCOPY a.txt /a.txt\nRUN sleep 3 && echo done > /b.txt\n")
    (tmp_path / "a.txt").write_text("a\n")
    env = {**e.env, "DOCKER_BUILDKIT": "0"}
    proc = sp.Popen([DOCKER, "build", "-t", "killed:1", str(tmp_path)], env=env, stdout=sp.PIPE, stderr=sp.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if e.docker("ps", "-q").out:
            break  # the RUN step's container is running
        time.sleep(0.1)
    e.kill9()
    proc.wait(30)
    e.start()
    tmp_mounts = [line for line in Path("/proc/self/mountinfo").read_text().splitlines() if f"{e.root}/image/tmp" in line]
    assert tmp_mounts == []
    assert e.docker("images", "-q", "killed:1").out == ""
    e.remove_all_containers()
    r = sp.run([DOCKER, "build", "-q", "-t", "killed:1", str(tmp_path)], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert e.docker("run", "--rm", "killed:1", "cat", "/a.txt", "/b.txt").out == "a\ndone"
