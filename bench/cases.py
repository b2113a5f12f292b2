"""The benchmarks, each a function of (engines, plan) returning result rows.

Every benchmark issues the same docker commands to both engines, alternating,
and reports the medians with the target ratio Berth/Docker from the issue:
run --rm, run -d and rm -f at most 0.5x; a 128 MiB write (run -d + wait) at most
0.3x; reading its logs back at most 0.5x; ps with 100 running no slower
(1.0x); engine memory at most half of dockerd + containerd (+ shims).

Every container a benchmark makes is tracked on its side (`Side.track`), so
an interrupted run still removes it.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench import memory
from bench.engines import IMAGE, BenchError, Side
from bench.measure import alternate, time_docker
from bench.report import Row

NAMES = ("run-rm", "run-d-rm", "ps", "write-logs", "memory")
LINE = "x" * 99  # `yes LINE` prints 100-byte lines
MIB = 1024 * 1024


@dataclass(frozen=True)
class Plan:
    """What to run and how much: iterations per benchmark, fleet size, bytes written."""

    runs: int
    containers: int
    write_bytes: int
    only: str | None
    progress: Callable[[str], None]

    def wants(self, name: str) -> bool:
        return self.only is None or self.only == name


def median_row(key: str, operation: str, series: dict[str, dict[str, list[float]]], metric: str,
               target: float | None, unit: str = "s", note: str = "", limit: float | None = None) -> Row:
    """The row for `metric`: each engine's median, the raw samples, and the target ratio and/or absolute limit."""
    samples = series[metric]
    return Row(key, operation, unit, statistics.median(samples["berth"]), statistics.median(samples["docker"]),
               target, {k: list(v) for k, v in samples.items()}, note, limit)


def ticker(plan: Plan, name: str) -> Callable[[str], None]:
    """A progress callback that prefixes `name` to each message."""
    return lambda label: plan.progress(f"{name}: {label}")


def run_rm(sides: Sequence[Side], plan: Plan) -> list[Row]:
    """`docker run --rm busybox true`: create, start, wait, remove in one CLI call."""
    def step(side: Side) -> dict[str, float]:
        return {"run --rm": time_docker(side, "run", "--rm", IMAGE, "true").seconds}

    series = alternate(sides, plan.runs, step, progress=ticker(plan, "run --rm")).samples
    return [median_row("run_rm", "run --rm busybox true", series, "run --rm", 0.5)]


def run_d_rm(sides: Sequence[Side], plan: Plan) -> list[Row]:
    """`docker run -d busybox sleep 1000`, then `docker rm -f ID`, each timed on its own."""
    def step(side: Side) -> dict[str, float]:
        run = time_docker(side, "run", "-d", IMAGE, "sleep", "1000")
        side.track(run.stdout)
        rm = time_docker(side, "rm", "-f", run.stdout)
        side.forget(run.stdout)
        return {"run -d": run.seconds, "rm -f": rm.seconds}

    series = alternate(sides, plan.runs, step, progress=ticker(plan, "run -d / rm -f")).samples
    return [
        median_row("run_d", "run -d busybox sleep 1000", series, "run -d", 0.5),
        median_row("rm_f", "rm -f (running container)", series, "rm -f", 0.5),
    ]


def write_command(nbytes: int) -> list[str]:
    """The container command: `nbytes` of 100-byte lines on stdout (the last line may be cut short)."""
    return ["sh", "-c", f"yes {LINE} | head -c {nbytes}"]


def _count_log_bytes(side: Side, cid: str) -> int:
    proc = subprocess.Popen(side.argv("logs", cid), env=side.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    count = 0
    while chunk := proc.stdout.read(1 << 20):
        count += len(chunk)
    proc.wait(60)
    return count


def _check_write(side: Side, nbytes: int) -> str:
    """One untimed round that also warms up: the logs must give back exactly `nbytes`."""
    cid = side.docker("run", "-d", IMAGE, *write_command(nbytes))
    side.track(cid)
    try:
        side.docker("wait", cid, timeout=600)
        got = _count_log_bytes(side, cid)
    finally:
        side.remove([cid])
    return "" if got == nbytes else f"{side.name} logs gave {got} bytes of {nbytes}"


def write_logs(sides: Sequence[Side], plan: Plan) -> list[Row]:
    """A container writing `plan.write_bytes` to stdout: `run -d` + `wait` timed together, then `logs`."""
    nbytes = plan.write_bytes

    def step(side: Side) -> dict[str, float]:
        run = time_docker(side, "run", "-d", IMAGE, *write_command(nbytes))
        side.track(run.stdout)
        wait = time_docker(side, "wait", run.stdout, timeout=600)
        if wait.stdout != "0":
            raise BenchError(f"{side.name}: the writing container exited with {wait.stdout}")
        logs = time_docker(side, "logs", run.stdout, keep_stdout=False, timeout=900)
        side.remove([run.stdout])
        return {"write": run.seconds + wait.seconds, "logs": logs.seconds}

    plan.progress(f"write {nbytes // MIB} MiB: checking the logs on both engines")
    problems = [p for p in (_check_write(side, nbytes) for side in sides) if p]
    series = alternate(sides, plan.runs, step, warmup=0, progress=ticker(plan, f"write {nbytes // MIB} MiB")).samples
    mib = f"{nbytes // MIB} MiB"
    return [
        median_row("write", f"run -d + wait: write {mib} to stdout", series, "write", 0.3, note="; ".join(problems)),
        median_row("logs", f"logs of those {mib} > /dev/null", series, "logs", 0.5),
    ]


def start_fleet(sides: Sequence[Side], plan: Plan) -> dict[str, set[str]]:
    """Start `plan.containers` sleeping containers on every side, alternating; return their IDs by side."""
    fleet: dict[str, set[str]] = {side.name: set() for side in sides}
    for i in range(plan.containers):
        for side in sides:
            cid = side.docker("run", "-d", IMAGE, "sleep", "1000")
            side.track(cid)
            fleet[side.name].add(cid)
        if (i + 1) % 10 == 0 or i + 1 == plan.containers:
            plan.progress(f"fleet: {i + 1}/{plan.containers} running on each engine")
    return fleet


def remove_fleet(sides: Sequence[Side], fleet: dict[str, set[str]]) -> None:
    for side in sides:
        side.remove(sorted(fleet[side.name]))


def ps(sides: Sequence[Side], plan: Plan, fleet: dict[str, set[str]]) -> list[Row]:
    """`docker ps` with the fleet running (Docker may list other users' containers too)."""
    for side in sides:
        listed = set(side.docker("ps", "-q", "--no-trunc").split())
        if not fleet[side.name] <= listed:
            seen = len(listed & fleet[side.name])
            raise BenchError(f"{side.name}: ps lists {seen} of {len(fleet[side.name])} running containers")

    def step(side: Side) -> dict[str, float]:
        return {"ps": time_docker(side, "ps", keep_stdout=False).seconds}

    series = alternate(sides, plan.runs, step, progress=ticker(plan, "ps")).samples
    return [median_row("ps", f"ps with {plan.containers} running", series, "ps", 1.0)]


def _sampled(sides: Sequence[Side], pids_of: Callable[[Side], set[int]], rounds: int = 3) -> dict[str, list[float]]:
    """PSS in MB of each side's processes, read `rounds` times a second apart."""
    samples: dict[str, list[float]] = {side.name: [] for side in sides}
    for n in range(rounds):
        if n:
            time.sleep(1)
        for side in sides:
            samples[side.name].append(memory.total(pids_of(side)).pss_mb)
    return samples


def memory_idle(sides: Sequence[Side], key: str = "mem_idle", operation: str = "engine memory, idle (PSS)",
                target: float | None = 0.5) -> Row:
    """The engine's own processes: Berth's `python -m engine`; Docker's dockerd + containerd."""
    series = {"mem": _sampled(sides, lambda side: set(side.daemon_pids().values()))}
    parts = []
    for side in sides:
        usages = {role: memory.usage_of(pid) for role, pid in side.daemon_pids().items()}
        roles = ", ".join(f"{role} {u.pss_mb:.1f} (RSS {u.rss_kb / 1024:.1f})" for role, u in usages.items())
        parts.append(f"{side.name}: {roles} MB")
    return median_row(key, operation, series, "mem", target, unit="MB", note="; ".join(parts))


def memory_loaded(sides: Sequence[Side], plan: Plan, fleet: dict[str, set[str]]) -> list[Row]:
    """Engine plus per-container monitors (conmon / containerd-shim) with the fleet running."""
    monitors = {side.name: side.monitor_pids(fleet[side.name]) for side in sides}
    n = plan.containers
    notes = [f"{side.name} has {len(monitors[side.name])} monitors for {n} containers"
             for side in sides if len(monitors[side.name]) != n]
    loaded = _sampled(sides, lambda side: set(side.daemon_pids().values()) | set(monitors[side.name]))
    per = {name: [memory.total(pids).pss_mb / max(len(pids), 1)] for name, pids in monitors.items()}
    return [
        median_row("mem_loaded", f"engine memory, {n} running (PSS, incl. monitors)", {"mem": loaded}, "mem", 0.5,
             unit="MB", note="; ".join(notes)),
        median_row("mem_monitor", "per-container monitor: conmon vs shim (PSS)", {"mem": per}, "mem", None, unit="MB"),
    ]
