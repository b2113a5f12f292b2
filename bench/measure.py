"""Timing docker CLI commands, and running the two engines in alternation.

A timing is the wall-clock time of one whole `docker` process, measured with
`time.perf_counter()` around `subprocess.run`, exactly as a user at a shell would
experience it. `alternate()` runs one step per engine per iteration, flipping the
order every iteration, so load on the machine (other tests run here too) and any
first-mover effect fall on both engines alike.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench.engines import BenchError, Side


@dataclass(frozen=True)
class Timed:
    """One docker command's wall-clock seconds and its stdout (empty when discarded)."""

    seconds: float
    stdout: str


def time_docker(side: Side, *args: str, keep_stdout: bool = True, timeout: float = 300) -> Timed:
    """Run `docker ARGS` against `side` and time it; raise BenchError if it fails or times out.

    With `keep_stdout=False` the output goes to /dev/null, as `docker logs ID > /dev/null`.
    """
    out = subprocess.PIPE if keep_stdout else subprocess.DEVNULL
    start = time.perf_counter()
    try:
        proc = subprocess.run(side.argv(*args), check=False, env=side.env, stdout=out, stderr=subprocess.PIPE,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{side.name}: docker {' '.join(args)} took more than {timeout:.0f} s") from None
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        raise BenchError(f"{side.name}: docker {' '.join(args)} failed ({proc.returncode}): {err}")
    return Timed(seconds, proc.stdout.decode(errors="replace").strip() if keep_stdout else "")


@dataclass
class Series:
    """Samples of named measurements per engine: `samples[metric][engine] -> [seconds, ...]`."""

    samples: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def add(self, metric: str, engine: str, value: float) -> None:
        self.samples.setdefault(metric, {}).setdefault(engine, []).append(value)

    def of(self, metric: str, engine: str) -> list[float]:
        return self.samples.get(metric, {}).get(engine, [])

    def median(self, metric: str, engine: str) -> float:
        values = self.of(metric, engine)
        return statistics.median(values) if values else float("nan")


Step = Callable[[Side], dict[str, float]]


def alternate(sides: Sequence[Side], runs: int, step: Step, warmup: int = 1,
              progress: Callable[[str], None] | None = None) -> Series:
    """Run `step` on every side `runs` times (after `warmup` discarded rounds), alternating.

    `step(side)` performs one measured iteration on one engine and returns its
    timings by metric name. Iteration i runs the sides in order when i is even
    and reversed when odd.
    """
    series = Series()
    for i in range(warmup + runs):
        order = list(sides) if i % 2 == 0 else list(reversed(sides))
        for side in order:
            timings = step(side)
            if i >= warmup:
                for metric, seconds in timings.items():
                    series.add(metric, side.name, seconds)
        measured = i + 1 - warmup
        if progress is not None and (i < warmup or measured % 5 == 0 or measured == runs):
            label = f"warm-up {i + 1}/{warmup}" if i < warmup else f"{measured}/{runs}"
            progress(label)
    return series
