"""`python -m bench.console [--quick]`: the console's own figures, against a real stack.

It starts what `make up` starts, privately: a Berth engine with names of its own,
a Redis on a unix socket, and the console under Daphne on a free loopback port
(tests/support/console.py: temp database, an admin with a random password), then
Debian's Chromium through Playwright. Then:

1. 200 running busybox containers (a tenth publishing a port, a fifth with a
   health check): the containers page, its live-refresh fragment and
   `GET /api/endpoints/<id>/containers/`, each timed from this process over
   loopback with a signed-in session (median over --runs; target < 150 ms).
2. A container writing 1,000 lines/s: how long a line takes from conmon's
   timestamp (and, for probe lines, from the time the container wrote into
   them) to the logs websocket's message in the page (p95 target < 100 ms).
3. A container writing 50,000 lines/s: clicks on the container page's controls,
   from the input event to the next frame, measured in the page (target: the
   95th percentile and the slowest under 200 ms).

It prints a table (as bench/report.py does) and writes bench/results/console.md
and console.json. Whatever happens, the containers, the console, Redis and the
engine are removed before it exits. Exit 0 when it ran and cleaned up (a FAIL is
a result), 1 on an error or a leak, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import requests

from bench.console_browser import (
    FloodResult,
    LatencyResult,
    flood_clicks,
    log_latency,
    percentile,
    summary_ms,
)
from bench.report import RESULTS_DIR
from tests.support.console import ConsoleServer
from tests.support.engine import REPO, EngineProcess
from tests.support.redis import RedisServer

CHROMIUM = "/usr/bin/chromium"
LABEL = "berth-bench-console=1"
_NOW = 'read up rest < /proc/uptime; c=${up%.*}${up#*.}'  # centiseconds since boot, without a fork
# Lines at a steady rate (catching up after a late wake-up), plus ten probe lines a second
# carrying the wall-clock time the container wrote them (busybox date has no sub-second format).
STEADY = (f'R=1000; {_NOW}; c0=$c; sent=0; lastp=0; while :; do {_NOW}; due=$(( (c - c0) * R / 100 )); '
          'while [ $sent -lt $due ]; do echo "line $sent of a steady log at a thousand lines a second"; '
          'sent=$((sent + 1)); done; if [ $((c - lastp)) -ge 10 ]; then lastp=$c; adjtimex | '
          "sed -n 's/^ *time.tv_sec: *//p; s/^ *time.tv_usec: *//p' | { read s; read u; echo \"probe $s $u\"; }; fi; "
          'usleep 5000; done')
FLOOD = (f'R=50000; {_NOW}; c0=$c; sent=0; while :; do {_NOW}; n=$(( (c - c0) * R / 100 - sent )); '
         'if [ $n -gt 0 ]; then yes "flood line: about as long as a web server access log entry, '
         'GET /index.html 200 0123456789" | head -n $n; sent=$((sent + n)); fi; usleep 10000; done')


@dataclass(frozen=True)
class Result:
    """One figure: its value in `unit`, the limit it must stay under (None: information only)."""

    key: str
    measurement: str
    value: float
    unit: str = "ms"
    limit: float | None = None
    note: str = ""
    details: dict[str, Any] | None = None

    @property
    def verdict(self) -> str:
        if self.limit is None:
            return "info"
        return "PASS" if self.value < self.limit else "FAIL"


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _fmt(value: float, unit: str) -> str:
    if math.isnan(value):
        return "—"
    return f"{value:.1f} {unit}" if unit == "ms" else f"{value:,.0f} {unit}"


def text_table(results: list[Result]) -> str:
    """A fixed-width table for a terminal, notes listed below it."""
    body = [["measurement", "value", "target", "result"]] + [
        [r.measurement, _fmt(r.value, r.unit), f"< {_fmt(r.limit, r.unit)}" if r.limit is not None else "—", r.verdict]
        for r in results]
    widths = [max(len(row[i]) for row in body) for i in range(4)]
    lines = []
    for n, row in enumerate(body):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = [f"  {r.measurement}: {r.note}" for r in results if r.note]
    return "\n".join(lines + (["", "notes:", *notes] if notes else []))


def markdown(results: list[Result], meta: dict[str, Any]) -> str:
    """The same table in markdown, with the conditions of the run beneath it."""
    lines = ["| measurement | value | target | result |", "|---|---|---|---|"]
    for r in results:
        target = f"< {_fmt(r.limit, r.unit)}" if r.limit is not None else "—"
        verdict = f"**{r.verdict}**" if r.verdict == "FAIL" else r.verdict
        lines.append(f"| {r.measurement} | {_fmt(r.value, r.unit)} | {target} | {verdict} |")
    conditions = (f"{meta['containers']} containers, {meta['runs']} requests per page; Chromium {meta['chromium']}; "
                  f"{meta['cpus']} CPUs, {meta['date']}, Berth {meta['berth_commit']}.")
    lines += ["", conditions, ""]
    lines += [f"- {r.measurement}: {r.note}" for r in results if r.note]
    return "\n".join(lines) + "\n"


class Stack:
    """Engine, Redis and console for one run; `close()` removes them all and returns what leaked."""

    def __init__(self) -> None:
        self.engine = EngineProcess(tag="bc" + secrets.token_hex(3))
        self.redis = RedisServer()
        self.console: ConsoleServer | None = None

    def start(self) -> None:
        _progress(f"starting the engine under {self.engine.base}, Redis and the console")
        self.engine.start()
        self.engine.bootstrap_busybox()
        self.redis.start()
        self.console = ConsoleServer(self.engine.host, self.redis.url).start()
        _progress(f"console at {self.console.url}")

    def close(self) -> list[str]:
        if self.console is not None:
            self.console.stop()
        self.redis.stop()
        return self.engine.cleanup()

    def run(self, *args: str) -> str:
        """`docker run -d --label LABEL ARGS`; the container's ID. Raises on failure."""
        result = self.engine.docker("run", "-d", "--label", LABEL, *args, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"docker run {' '.join(args)}: {result.stderr.strip()}")
        return result.out


def start_fleet(stack: Stack, count: int) -> None:
    """`count` sleeping busybox containers, made 4 at a time; every 10th publishes a port, every 5th has a health check."""
    def one(i: int) -> str:
        extra = ["-p", "127.0.0.1::80"] if i % 10 == 0 else []
        extra += ["--health-cmd", "true", "--health-interval", "30s"] if i % 5 == 0 else []
        return stack.run("--name", f"bench-{i:03d}", *extra, "busybox", "sleep", "3600")

    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(count)))
    _progress(f"{count} containers running ({time.monotonic() - started:.0f} s)")


def timed_get(session: requests.Session, url: str, check: Callable[[requests.Response], None]) -> float:
    """Milliseconds for one GET of `url`; `check` vets the answer (raises RuntimeError)."""
    t = time.perf_counter()
    answer = session.get(url, timeout=30)
    elapsed = (time.perf_counter() - t) * 1000
    if answer.status_code != 200:
        raise RuntimeError(f"GET {url}: {answer.status_code}")
    check(answer)
    return elapsed


def page_timings(session: requests.Session, base: str, eid: int, count: int, runs: int) -> list[Result]:
    """The containers page, its rows fragment and the API list, each holding every container.

    The three take turns (after 3 unmeasured rounds), so a busy moment on the host weighs on all alike."""
    def rows_in_page(answer: requests.Response) -> None:
        if answer.text.count("<tr data-id=") < count:
            raise RuntimeError(f"{answer.url} shows {answer.text.count('<tr data-id=')} rows, not {count}")

    def rows_in_api(answer: requests.Response) -> None:
        if len(answer.json()) < count:
            raise RuntimeError(f"{answer.url} lists {len(answer.json())} containers, not {count}")

    cases = [("page", f"containers page with {count} containers (server time, median)", f"/endpoints/{eid}/containers/", rows_in_page),
             ("rows", "its live-refresh fragment (rows/)", f"/endpoints/{eid}/containers/rows/", rows_in_page),
             ("api", f"GET /api/…/containers/ with {count} containers (median)", f"/api/endpoints/{eid}/containers/", rows_in_api)]
    samples: dict[str, list[float]] = {key: [] for key, *_ in cases}
    for n in range(runs + 3):
        for key, _, path, check in cases:
            elapsed = timed_get(session, base + path, check)
            if n >= 3:
                samples[key].append(elapsed)
    return [Result(key, label, statistics.median(samples[key]), limit=150.0 if key != "rows" else None,
                   note=f"p95 {percentile(samples[key], 0.95):.1f} ms over {runs} requests", details=summary_ms(samples[key]))
            for key, label, *_ in cases]


def latency_results(r: LatencyResult) -> list[Result]:
    conmon, written = summary_ms(r.conmon_ms), summary_ms(r.written_ms)
    return [
        Result("log_latency_p95", "log line to the browser at 1k lines/s (p95)", conmon.get("p95", float("nan")),
               limit=100.0, details={"conmon": conmon, "written": written, "lines_per_s": round(r.lines_per_s),
                                     "dropped": r.dropped},
               note=(f"from conmon's timestamp to the websocket message in the page, {conmon['n']:,} lines "
                     f"({r.lines_per_s:,.0f}/s arrived, {r.dropped} dropped); median {conmon.get('p50')} ms, "
                     f"max {conmon.get('max')} ms")),
        Result("log_latency_written_p95", "… from the time written in the line (p95)", written.get("p95", float("nan")),
               note=f"{written['n']} probe lines carrying the container's own clock; median {written.get('p50')} ms"),
    ]


def flood_results(r: FloodResult) -> list[Result]:
    frames = [c["frame"] for c in r.clicks]
    clicks = summary_ms(frames)
    note = (f"{clicks['n']} clicks on wrap/times/tabs/rename, median {clicks.get('p50')} ms, p95 {clicks.get('p95')} ms; "
            f"{r.lines_per_s:,.0f} lines/s shown + {r.dropped_per_s:,.0f}/s dropped for the page, {r.fps:.0f} frames/s, "
            f"longest task {r.longtask_max_ms:.0f} ms")
    return [
        Result("flood_click_p95", "click to next frame at 50k lines/s (p95)", clicks.get("p95", float("nan")), limit=200.0,
               note=note, details={"clicks": clicks, "by_target": _by_target(r.clicks), "fps": round(r.fps, 1),
                                   "playwright_click_ms": summary_ms(r.playwright_click_ms)}),
        Result("flood_click_max", "… the slowest click", clicks.get("max", float("nan")), limit=200.0),
        Result("flood_rate", "lines/s reaching the console during the flood", r.lines_per_s + r.dropped_per_s,
               unit="lines/s", note="shown in the page plus dropped for it; the container offers 50,000/s"),
    ]


def _by_target(clicks: list[dict[str, Any]]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for c in clicks:
        out.setdefault(c["target"], []).append(round(c["frame"], 1))
    return out


def browser_measurements(stack: Stack, browser: Any, plan: argparse.Namespace) -> list[Result]:
    """Sign in, time the pages with the fleet, then the steady log and the flood, each in its own container."""
    console = stack.console
    assert console is not None
    context = browser.new_context(base_url=console.url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto("/login/")
    page.fill("#id_username", console.username)
    page.fill("#id_password", console.password)
    page.press("#id_password", "Enter")
    page.wait_for_url("**/endpoints/*/")
    eid = int(page.url.rstrip("/").rsplit("/", 1)[1])
    page.close()
    session = requests.Session()
    for cookie in context.cookies():
        session.cookies.set(cookie["name"], cookie["value"])
    results = []
    start_fleet(stack, plan.containers)
    results += page_timings(session, console.url, eid, plan.containers, plan.runs)
    stack.engine.docker("rm", "-f", *stack.engine.docker("ps", "-aq", "--filter", f"label={LABEL}").stdout.split(), timeout=300)
    _progress("fleet removed; a container writing 1,000 lines/s")
    stack.run("--name", "steady", "busybox", "sh", "-c", STEADY)
    results += latency_results(log_latency(context, f"/endpoints/{eid}/containers/steady/", plan.seconds))
    stack.engine.docker("rm", "-f", "steady")
    _progress("a container writing 50,000 lines/s; clicking")
    stack.run("--name", "flood", "busybox", "sh", "-c", FLOOD)
    results += flood_results(flood_clicks(context, f"/endpoints/{eid}/containers/flood/", plan.seconds))
    stack.engine.docker("rm", "-f", "flood")
    context.close()
    return results


def describe(plan: argparse.Namespace, started: float, chromium: str) -> dict[str, Any]:
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], check=False, capture_output=True, text=True)
    return {"date": time.strftime("%Y-%m-%d %H:%M", time.localtime(started)), "duration_s": round(time.time() - started, 1),
            "containers": plan.containers, "runs": plan.runs, "seconds": plan.seconds, "chromium": chromium,
            "berth_commit": commit.stdout.strip() or "?", "kernel": platform.release(), "cpus": os.cpu_count()}


def write_results(results: list[Result], meta: dict[str, Any]) -> list[str]:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    md, js = RESULTS_DIR / "console.md", RESULTS_DIR / "console.json"
    md.write_text(markdown(results, meta))
    data = {"meta": meta, "results": [{**asdict(r), "verdict": r.verdict} for r in results]}
    js.write_text(json.dumps(data, indent=2, default=lambda v: None) + "\n")
    return [str(p.relative_to(REPO)) for p in (md, js)]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.console", description="The console's page, API and live-log figures")
    p.add_argument("--containers", type=int, default=200, help="containers on the engine for the page timings (200)")
    p.add_argument("--runs", type=int, default=30, help="timed requests per page (30)")
    p.add_argument("--seconds", type=float, default=20, help="seconds of each browser measurement (20)")
    p.add_argument("--quick", action="store_true", help="smoke run: 20 containers, 5 requests, 5 s")
    return p


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    plan = build_parser().parse_args(argv)
    if plan.quick:
        plan.containers, plan.runs, plan.seconds = 20, 5, 5.0
    if os.geteuid() != 0:
        print("bench.console: run as root (the engine needs it)", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    started, stack, results, leaks = time.time(), Stack(), [], []
    try:
        stack.start()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            try:
                results = browser_measurements(stack, browser, plan)
                chromium = browser.version
            finally:
                browser.close()
        meta = describe(plan, started, chromium)
    except (RuntimeError, OSError) as exc:
        print(f"bench.console: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench.console: interrupted", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _progress("cleaning up")
        leaks = stack.close()
        for leak in leaks:
            print(f"bench.console: left behind: {leak}", file=sys.stderr)
    print(text_table(results))
    print("\nwritten: " + ", ".join(write_results(results, meta)))
    return 1 if leaks else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
