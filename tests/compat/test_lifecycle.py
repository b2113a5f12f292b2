"""Health checks, restart policies, clean shutdown and events, through the real docker CLI."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.engine import DOCKER, EngineProcess


def wait_for(fn, timeout: float = 20, step: float = 0.2):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met in time")


def events(docker, since: float, *filters: str) -> list[dict]:  # type: ignore[no-untyped-def]
    args = ["events", "--since", f"{since:.3f}", "--until", f"{time.time():.3f}", "--format", "{{json .}}"]
    for f in filters:
        args += ["--filter", f]
    return [json.loads(line) for line in docker(*args, timeout=30).out.splitlines()]


def test_course_healthcheck_starting_healthy_unhealthy(engine: EngineProcess, tmp_path: Path, docker) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\nENV APP_PORT=3000\n"
        "HEALTHCHECK --interval=1s --timeout=2s --retries=3 CMD wget -q -O /dev/null http://localhost:$APP_PORT/ready || exit 1\n"
        "CMD mkdir -p /www; (sleep 2; echo ok > /www/ready) & exec httpd -f -p $APP_PORT -h /www\n"
    )
    r = subprocess.run([DOCKER, "build", "-q", "-t", "healthy:1", str(tmp_path)], env={**engine.env, "DOCKER_BUILDKIT": "0"},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    since = time.time()
    docker("run", "-d", "--name", "hc", "healthy:1", check=True)
    assert "(health: starting)" in docker("ps", "--format", "{{.Status}}").out
    wait_for(lambda: "(healthy)" in docker("ps", "--format", "{{.Status}}").out)
    docker("exec", "hc", "rm", "/www/ready", check=True)
    wait_for(lambda: "(unhealthy)" in docker("ps", "--format", "{{.Status}}").out)
    health = engine.inspect("hc")["State"]["Health"]
    assert health["Status"] == "unhealthy" and health["FailingStreak"] >= 3
    assert len(health["Log"]) == 5 and health["Log"][-1]["ExitCode"] == 1
    actions = [e["Action"] for e in events(docker, since, "container=hc", "event=health_status")]
    assert actions == ["health_status: healthy", "health_status: unhealthy"]
    assert docker("ps", "--filter", "health=unhealthy", "--format", "{{.Names}}").out == "hc"
    docker("rm", "-f", "hc", check=True)
    docker("rmi", "healthy:1", check=True)


def test_health_flags_and_no_healthcheck(engine: EngineProcess, docker) -> None:  # type: ignore[no-untyped-def]
    docker("run", "-d", "--name", "hf", "--health-cmd", "exit 0", "--health-interval", "500ms",
           "--health-start-period", "10s", "busybox", "sleep", "100", check=True)
    wait_for(lambda: engine.inspect("hf")["State"]["Health"]["Status"] == "healthy")
    docker("run", "-d", "--name", "hs", "--health-cmd", "exit 1", "--health-interval", "300ms", "--health-retries", "1",
           "--health-start-period", "60s", "busybox", "sleep", "100", check=True)
    time.sleep(1.5)
    h = engine.inspect("hs")["State"]["Health"]
    assert h["Status"] == "starting" and h["FailingStreak"] == 0  # failures in the start period do not count
    docker("run", "-d", "--name", "hn", "--no-healthcheck", "busybox", "sleep", "100", check=True)
    assert "Health" not in engine.inspect("hn")["State"]
    timeout = engine.docker("run", "-d", "--name", "ht", "--health-cmd", "sleep 5", "--health-interval", "500ms",
                            "--health-timeout", "300ms", "busybox", "sleep", "100")
    assert timeout.returncode == 0
    wait_for(lambda: (engine.inspect("ht")["State"].get("Health") or {}).get("Log"))
    assert "exceeded timeout" in engine.inspect("ht")["State"]["Health"]["Log"][0]["Output"]
    docker("rm", "-f", "hf", "hs", "hn", "ht", check=True)


def test_restart_always_backs_off(engine: EngineProcess, docker) -> None:  # type: ignore[no-untyped-def]
    since = time.time()
    docker("run", "-d", "--name", "crash", "--restart", "always", "busybox", "sh", "-c", "exit 3", check=True)
    time.sleep(3.5)
    starts = [e["timeNano"] for e in events(docker, since, "container=crash", "event=start")]
    # 100 ms, 200 ms, 400 ms, 800 ms, 1.6 s between the ends and the next starts
    assert 4 <= len(starts) <= 7, len(starts)
    gaps = [(b - a) / 1e9 for a, b in itertools.pairwise(starts)]
    assert gaps[-1] > gaps[0] * 3, gaps
    assert engine.inspect("crash")["RestartCount"] >= 3
    docker("stop", "crash", check=True)
    count = engine.inspect("crash")["RestartCount"]
    time.sleep(1)
    assert engine.inspect("crash")["State"]["Status"] == "exited"
    assert engine.inspect("crash")["RestartCount"] == count


def test_on_failure_counts_and_no_policy(engine: EngineProcess, docker) -> None:  # type: ignore[no-untyped-def]
    docker("run", "-d", "--name", "of", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 1", check=True)
    docker("run", "-d", "--name", "ok", "--restart", "on-failure", "busybox", "true", check=True)
    docker("run", "-d", "--name", "never", "busybox", "sh", "-c", "exit 1", check=True)
    wait_for(lambda: engine.inspect("of")["RestartCount"] == 2 and engine.inspect("of")["State"]["Status"] == "exited")
    time.sleep(1)
    assert engine.inspect("of")["RestartCount"] == 2
    assert engine.inspect("ok")["RestartCount"] == 0
    assert engine.inspect("never")["RestartCount"] == 0
    assert engine.inspect("ok")["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 0}


def test_manual_stop_and_kill_are_respected(engine: EngineProcess, docker) -> None:  # type: ignore[no-untyped-def]
    docker("run", "-d", "--name", "us", "--restart", "unless-stopped", "busybox", "sleep", "100", check=True)
    docker("run", "-d", "--name", "al", "--restart", "always", "busybox", "sleep", "100", check=True)
    docker("stop", "-t", "1", "us", check=True)
    docker("kill", "al", check=True)
    time.sleep(1)
    assert engine.inspect("us")["State"]["Status"] == "exited"
    assert engine.inspect("al")["State"]["Status"] == "exited"


@pytest.fixture
def own_engine() -> Iterator[EngineProcess]:
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
        assert not e.cleanup()


def test_policies_at_engine_start_after_a_reboot(own_engine: EngineProcess) -> None:
    e = own_engine
    for name, policy in (("p-always", "always"), ("p-unless", "unless-stopped"), ("p-no", "no"),
                         ("p-always-stopped", "always"), ("p-unless-stopped", "unless-stopped")):
        e.docker("run", "-d", "--name", name, "--restart", policy, "busybox", "sleep", "1000", check=True)
    e.docker("stop", "-t", "0", "p-always-stopped", "p-unless-stopped", check=True)
    pids = {n: e.inspect(n)["State"]["Pid"] for n in ("p-always", "p-unless", "p-no")}
    e.kill9()
    # a host reboot: every container process and its monitor die while no engine runs
    for line in subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout.splitlines():
        if "conmon" in line and str(e.base) in line:
            os.kill(int(line.split()[0]), signal.SIGKILL)
    for pid in pids.values():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.5)
    e.start()
    wait_for(lambda: e.inspect("p-always")["State"]["Running"] and e.inspect("p-unless")["State"]["Running"])
    wait_for(lambda: e.inspect("p-always-stopped")["State"]["Running"])
    assert e.inspect("p-no")["State"]["Status"] == "exited"
    assert e.inspect("p-unless-stopped")["State"]["Status"] == "exited"


def test_clean_shutdown_and_init_reaps_zombies(engine: EngineProcess, docker) -> None:  # type: ignore[no-untyped-def]
    docker("run", "-d", "--name", "clean", "--stop-timeout", "5", "busybox", "sh", "-c",
           "trap 'echo cleaning up; exit 0' TERM; echo running; while true; do sleep 0.1; done", check=True)
    time.sleep(0.5)
    t0 = time.monotonic()
    docker("stop", "clean", check=True)
    assert time.monotonic() - t0 < 3
    assert docker("logs", "clean").stdout == "running\ncleaning up\n"
    assert engine.inspect("clean")["State"]["ExitCode"] == 0
    docker("run", "-d", "--name", "sig", "--stop-signal", "SIGUSR1", "busybox", "sh", "-c",
           "trap 'echo got usr1; exit 0' USR1; while true; do sleep 0.1; done", check=True)
    time.sleep(0.3)
    docker("stop", "sig", check=True)
    assert "got usr1" in docker("logs", "sig").stdout
    # a zombie left by a child that the main process never waits for is reaped by --init
    script = "sh -c 'sleep 0.2 & exec sleep 100' & sleep 1; ps -o stat,comm | grep -c Z"
    without = docker("run", "--rm", "busybox", "sh", "-c", script).out
    with_init = docker("run", "--rm", "--init", "busybox", "sh", "-c", script).out
    assert int(with_init) <= int(without)


def test_events_cover_every_kind(engine: EngineProcess, tmp_path: Path, docker) -> None:  # type: ignore[no-untyped-def]
    since = time.time()
    docker("volume", "create", "evvol", check=True)
    docker("network", "create", "evnet", check=True)
    docker("run", "-d", "--name", "evc", "--network", "evnet", "-v", "evvol:/v", "busybox", "sleep", "100", check=True)
    docker("exec", "evc", "true", check=True)
    docker("pause", "evc", check=True)
    docker("unpause", "evc", check=True)
    docker("rename", "evc", "evc2", check=True)
    docker("kill", "evc2", check=True)
    docker("rm", "evc2", check=True)
    docker("network", "rm", "evnet", check=True)
    docker("volume", "rm", "evvol", check=True)
    docker("tag", "busybox", "evimg:1", check=True)
    archive = tmp_path / "e.tar"
    docker("save", "-o", str(archive), "evimg:1", check=True)
    docker("rmi", "evimg:1", check=True)
    time.sleep(1.1)
    seen = {(e["Type"], e["Action"].split(":")[0]) for e in events(docker, since)}
    for expected in [("container", a) for a in ("create", "start", "exec_create", "exec_start", "exec_die", "pause",
                                                "unpause", "rename", "kill", "die", "destroy")] + \
                    [("network", a) for a in ("create", "connect", "disconnect", "destroy")] + \
                    [("volume", a) for a in ("create", "mount", "unmount", "destroy")] + \
                    [("image", a) for a in ("tag", "save", "untag")]:
        assert expected in seen, expected


def test_ps_stays_fast_while_containers_crash_loop(engine: EngineProcess, docker) -> None:  # type: ignore[no-untyped-def]
    names = [f"loop{i}" for i in range(10)]
    for n in names:
        docker("run", "-d", "--name", n, "--restart", "always", "busybox", "sh", "-c", "exit 1", check=True)
    times = []
    for _ in range(15):
        t0 = time.monotonic()
        docker("ps", check=True)
        times.append(time.monotonic() - t0)
        time.sleep(0.1)
    times.sort()
    assert times[len(times) // 2] < 0.1, times
    docker("rm", "-f", *names, check=True, timeout=120)
