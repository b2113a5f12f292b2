"""Health checks: the image's HEALTHCHECK (or --health-*) probed on schedule, by Docker's rules.

A probe runs inside the container (`runc exec`); exit 0 is healthy, anything
else (or the timeout) a failure. A container starts "starting"; one success
makes it "healthy"; `retries` failures in a row make it "unhealthy", except that
failures during the start period do not count while it has never been healthy.
The last five results are kept with their output. Each status change is a
`health_status: <status>` event.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import tempfile
from collections.abc import Callable
from typing import Any

from engine.containers.model import RUNNING, Container, Health
from engine.observe import metrics
from engine.util.timefmt import now_ns, rfc3339

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 30 * 10**9
DEFAULT_TIMEOUT = 30 * 10**9
DEFAULT_RETRIES = 3
MAX_LOG_ENTRIES = 5
MAX_OUTPUT = 4096


def check_config(c: Container) -> dict[str, Any] | None:
    """The effective healthcheck, or None when the container has none (or NONE)."""
    hc = c.config.get("Healthcheck") or {}
    test = hc.get("Test") or []
    if not test or test[0] == "NONE":
        return None
    return hc


def probe_argv(test: list[str], shell: list[str]) -> list[str] | None:
    if test[0] == "CMD":
        return list(test[1:]) or None
    if test[0] == "CMD-SHELL":
        return [*shell, test[1]] if len(test) > 1 else None
    return None


def record(health: Health, exit_code: int, output: str, start_ns: int, end_ns: int, started_ns: int,
           start_period_ns: int, retries: int) -> str:
    """Apply one probe result to a container's Health (Docker's handleProbeResult); returns the status."""
    health.log.append({"Start": rfc3339(start_ns), "End": rfc3339(end_ns), "ExitCode": exit_code,
                       "Output": output[:MAX_OUTPUT]})
    del health.log[:-MAX_LOG_ENTRIES]
    if exit_code == 0:
        health.failing_streak = 0
        health.status = "healthy"
    else:
        in_start_period = health.status == "starting" and (start_ns - started_ns) < start_period_ns
        if not in_start_period:
            health.failing_streak += 1
            if health.failing_streak >= retries:
                health.status = "unhealthy"
    return health.status


class HealthMonitor:
    """One probing task per running container that has a healthcheck."""

    def __init__(self, runc: str, runc_root: str, bundle_of: Callable[[Container], str],
                 on_change: Callable[[Container, str], None], save: Callable[[Container], None]) -> None:
        self.runc = runc
        self.runc_root = runc_root
        self.bundle_of = bundle_of
        self.on_change = on_change
        self.save = save
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, c: Container) -> None:
        self.stop(c.id)
        cfg = check_config(c)
        if cfg is None:
            c.state.health = None
            return
        if c.state.health is None or c.state.health.status != "starting" or c.state.health.log:
            c.state.health = Health()
        self.tasks[c.id] = asyncio.get_running_loop().create_task(self._loop(c, cfg))

    def resume(self, c: Container) -> None:
        """After an engine restart: keep the recorded health and carry on probing."""
        cfg = check_config(c)
        if cfg is None:
            return
        if c.state.health is None:
            c.state.health = Health()
        self.tasks[c.id] = asyncio.get_running_loop().create_task(self._loop(c, cfg))

    def stop(self, cid: str) -> None:
        task = self.tasks.pop(cid, None)
        if task is not None:
            task.cancel()

    def close(self) -> None:
        for cid in list(self.tasks):
            self.stop(cid)

    async def _loop(self, c: Container, cfg: dict[str, Any]) -> None:
        interval = (cfg.get("Interval") or DEFAULT_INTERVAL) / 1e9
        timeout = (cfg.get("Timeout") or DEFAULT_TIMEOUT) / 1e9
        retries = cfg.get("Retries") or DEFAULT_RETRIES
        start_period = cfg.get("StartPeriod") or 0
        shell = c.config.get("Shell") or ["/bin/sh", "-c"]
        argv = probe_argv(cfg["Test"], shell)
        if argv is None:
            return
        try:
            while True:
                await asyncio.sleep(interval)
                if c.state.status != RUNNING or c.state.health is None:
                    continue
                start = now_ns()
                code, output = await self._probe(c, argv, timeout)
                metrics.count_health_check(code)
                before = c.state.health.status
                after = record(c.state.health, code, output, start, now_ns(), c.state.started_ns, start_period, retries)
                self.save(c)
                if after != before:
                    self.on_change(c, after)
        except asyncio.CancelledError:
            return

    async def _probe(self, c: Container, argv: list[str], timeout: float) -> tuple[int, str]:
        bundle = self.bundle_of(c)
        try:
            with open(os.path.join(bundle, "config.json"), encoding="utf-8") as f:  # noqa: ASYNC230 - a few KiB
                process = json.load(f)["process"]
        except (OSError, ValueError, KeyError):
            return -1, "cannot read the container's process spec"
        process.update({"args": argv, "terminal": False})
        process.pop("consoleSize", None)
        with tempfile.NamedTemporaryFile("w", dir=bundle, prefix="health-", suffix=".json", delete=False) as spec:
            json.dump(process, spec)
        pidfile = spec.name + ".pid"
        proc = await asyncio.create_subprocess_exec(
            self.runc, "--root", self.runc_root, "exec", "--process", spec.name, "--pid-file", pidfile, c.id,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
            code = proc.returncode if proc.returncode is not None else -1
            return code, out.decode(errors="replace")
        except TimeoutError:
            try:
                with open(pidfile, encoding="ascii") as f:  # noqa: ASYNC230 - a pid
                    os.kill(int(f.read().strip()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
            proc.kill()
            await proc.wait()
            return -1, f"Health check exceeded timeout ({int(timeout)}s)"
        finally:
            for path in (spec.name, pidfile):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
