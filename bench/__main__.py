"""`python -m bench [--runs N] [--quick] [--only NAME]`: Berth against Docker, side by side.

Order of a full run: idle memory (engines fresh), the fleet of sleeping
containers for memory-with-N and `ps`, then run --rm, run -d / rm -f, the big
write with its logs, a published port's first answer, network and volume
create / rm, builds (uncached, cached), `ps` while containers crash-loop, a pull
from a loopback registry, and finally idle memory again (for information: what
the benchmarks left behind in the engine). Whatever happens, everything this run
made (containers, networks, volumes, built and pulled images, the registry and
its storage) is removed before it exits, and a dockerd it started is stopped.

Exit status: 0 when the run completed and cleaned up (FAILs against targets are
results, shown in the table, not errors); 1 when a command failed or something
could not be removed; 130 when interrupted (SIGINT or SIGTERM), after cleaning up.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

from bench import cases, cases_more, cases_registry
from bench.engines import (
    BenchError,
    BerthSide,
    DockerSide,
    Side,
    make_workdir,
    share_image,
)
from bench.report import Row, text_table, write_results
from tests.support.engine import DOCKER, REPO


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description="Berth vs Docker, side by side, same docker CLI")
    p.add_argument("--runs", type=int, default=None,
                   help="measured runs per operation per engine (default 20; 5 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 5 runs, 20 containers instead of 100, 16 MiB instead of 128 MiB")
    p.add_argument("--only", choices=cases.NAMES + cases_more.NAMES + cases_registry.NAMES, help="run one benchmark")
    return p


def make_plan(ns: argparse.Namespace) -> cases.Plan:
    quick = bool(ns.quick)
    runs = ns.runs if ns.runs is not None else (5 if quick else 20)
    if runs < 1:
        raise SystemExit("--runs must be at least 1")
    return cases.Plan(runs=runs, containers=20 if quick else 100, write_bytes=(16 if quick else 128) * cases.MIB,
                      only=ns.only, progress=_progress)


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_benchmarks(sides: list[Side], plan: cases.Plan) -> list[Row]:
    rows: list[Row] = []
    if plan.wants("memory"):
        rows.append(cases.memory_idle(sides))
    if plan.wants("memory") or plan.wants("ps"):
        fleet = cases.start_fleet(sides, plan)
        try:
            if plan.wants("memory"):
                rows += cases.memory_loaded(sides, plan, fleet)
            if plan.wants("ps"):
                rows += cases.ps(sides, plan, fleet)
        finally:
            cases.remove_fleet(sides, fleet)
    if plan.wants("run-rm"):
        rows += cases.run_rm(sides, plan)
    if plan.wants("run-d-rm"):
        rows += cases.run_d_rm(sides, plan)
    if plan.wants("write-logs"):
        rows += cases.write_logs(sides, plan)
    if plan.wants("port"):
        rows += cases_more.port_first_answer(sides, plan)
    if plan.wants("network"):
        rows += cases_more.network_create_rm(sides, plan)
    if plan.wants("volume"):
        rows += cases_more.volume_create_rm(sides, plan)
    if plan.wants("build"):
        rows += cases_more.build(sides, plan)
    if plan.wants("crashloop"):
        rows += cases_more.ps_while_crashlooping(sides, plan)
    if plan.wants("pull"):
        rows += cases_registry.pull(sides, plan)
    if plan.wants("memory") and plan.only is None:
        rows.append(cases.memory_idle(sides, "mem_after", "engine memory, idle after the benchmarks (PSS)", None))
    return rows


def _version(*argv: str) -> str:
    proc = subprocess.run(list(argv), check=False, capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else "?"


def describe(plan: cases.Plan, docker: DockerSide, image_id: str, started: float) -> dict[str, Any]:
    """The conditions of the run, stored with the results."""
    server = _version(DOCKER, "-H", f"unix://{docker.socket_path}", "version", "--format", "{{.Server.Version}}")
    return {
        "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(started)),
        "duration_s": round(time.time() - started, 1),
        "runs": plan.runs,
        "containers": plan.containers,
        "write_bytes": plan.write_bytes,
        "only": plan.only,
        "image": image_id,
        "docker_cli": _version(DOCKER, "version", "--format", "{{.Client.Version}}") or "?",
        "docker_server": server,
        "dockerd_started_by_bench": docker.dockerd is not None,
        "berth_commit": _version("git", "-C", str(REPO), "rev-parse", "--short", "HEAD"),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
    }


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwinds through main's clean-up, like Ctrl-C


def main(argv: list[str]) -> int:
    plan = make_plan(build_parser().parse_args(argv))
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background
    started = time.time()
    workdir = make_workdir()
    docker = DockerSide(workdir)
    berth = BerthSide()
    sides: list[Side] = [berth, docker]
    rows: list[Row] = []
    leaks: list[str] = []
    try:
        _progress(f"starting engines (Berth under {berth.process.base}, {berth.process.exec_root})")
        docker.start()
        berth.start()
        image_id = share_image(berth, docker)
        rows = run_benchmarks(sides, plan)
        meta = describe(plan, docker, image_id, started)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        print(f"berth engine log (tail):\n{berth.log_tail()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _progress("cleaning up")
        leaks = berth.cleanup() + docker.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
        for leak in leaks:
            print(f"bench: left behind: {leak}", file=sys.stderr)
    print(text_table(rows))
    paths = write_results(rows, meta)
    print("\nwritten: " + ", ".join(str(p.relative_to(REPO)) for p in paths))
    return 1 if leaks else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
