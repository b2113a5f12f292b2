"""Container stats as `docker stats` computes them, from the engine's raw stats JSON (pure, no I/O).

The engine's `/containers/{id}/stats` sample holds cumulative counters; what a
person wants to see are percentages and rates. `totals()` reads the counters
out of one raw sample into `Totals`; `point()` turns a sample (and the one
before it, for rates) into the `Point` the charts plot and the history keeps.

Docker's rules (docker/cli `cli/command/container/stats_helpers.go`):
- CPU % = Δ container CPU time / Δ host CPU time × online CPUs × 100, over the
  window between `precpu_stats` and `cpu_stats` (or between two samples).
- memory used = usage − inactive file cache (`inactive_file` on cgroup v2,
  `total_inactive_file` on v1), when that is smaller than usage.
- network = sum of rx/tx bytes over all interfaces; block I/O = sum of the
  read/write entries of `io_service_bytes_recursive`. This module turns those
  cumulative counters into bytes per second between two samples.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

@dataclass(frozen=True)
class Totals:
    """The cumulative counters of one stats sample. `read` is the sample's time (unix seconds)."""

    read: float
    cpu_total: int
    system_total: int
    online_cpus: int
    pre_cpu_total: int
    pre_system_total: int
    mem_usage: int
    mem_limit: int
    net_rx: int
    net_tx: int
    blk_read: int
    blk_write: int
    pids: int


@dataclass(frozen=True)
class Point:
    """One plotted point: `t` unix seconds; `cpu` percent (None when there is no window yet);
    memory in bytes; network and block I/O in bytes per second (None for the first sample)."""

    t: float
    cpu: float | None
    mem: int
    mem_limit: int
    mem_pct: float | None
    net_rx: float | None
    net_tx: float | None
    blk_read: float | None
    blk_write: float | None
    pids: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_time(text: str | None) -> float:
    """RFC3339 (nanoseconds allowed, any offset) → unix seconds; 0.0 for Go's zero time or garbage."""
    if not text or text.startswith("0001-01-01"):
        return 0.0
    main, dot, rest = text.partition(".")
    frac, tz = "", rest
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        frac, tz = rest[:digits], rest[digits:]
    else:
        for sign in ("Z", "+", "-"):
            idx = main.find(sign, 11)
            if idx > 0:
                main, tz = main[:idx], main[idx:]
                break
    try:
        whole = datetime.fromisoformat(main + (tz.replace("Z", "+00:00") or "+00:00")).timestamp()
    except ValueError:
        return 0.0
    return whole + (float("0." + frac) if frac else 0.0)


def totals(raw: dict[str, Any], now: float = 0.0) -> Totals:
    """The counters of one raw engine sample; missing parts (a stopped container, cgroup v1 gaps) count as 0.

    `now` stands in for the sample's time when the engine gives none (Go's zero time).
    """
    cpu = raw.get("cpu_stats") or {}
    pre = raw.get("precpu_stats") or {}
    usage = cpu.get("cpu_usage") or {}
    online = int(cpu.get("online_cpus") or len(usage.get("percpu_usage") or []) or 0)
    mem = raw.get("memory_stats") or {}
    rx = tx = 0
    for net in (raw.get("networks") or {}).values():
        rx += int(net.get("rx_bytes") or 0)
        tx += int(net.get("tx_bytes") or 0)
    blk_read = blk_write = 0
    for entry in (raw.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = str(entry.get("op", "")).lower()
        if op == "read":
            blk_read += int(entry.get("value") or 0)
        elif op == "write":
            blk_write += int(entry.get("value") or 0)
    return Totals(
        read=parse_time(raw.get("read")) or now,
        cpu_total=int(usage.get("total_usage") or 0),
        system_total=int(cpu.get("system_cpu_usage") or 0),
        online_cpus=online,
        pre_cpu_total=int(((pre.get("cpu_usage") or {}).get("total_usage")) or 0),
        pre_system_total=int(pre.get("system_cpu_usage") or 0),
        mem_usage=memory_used(mem),
        mem_limit=int(mem.get("limit") or 0),
        net_rx=rx, net_tx=tx, blk_read=blk_read, blk_write=blk_write,
        pids=int((raw.get("pids_stats") or {}).get("current") or 0),
    )


def memory_used(mem: dict[str, Any]) -> int:
    """Usage without the inactive page cache, as `docker stats` shows it."""
    usage = int(mem.get("usage") or 0)
    stats = mem.get("stats") or {}
    for key in ("inactive_file", "total_inactive_file"):  # cgroup v2, then v1
        cache = stats.get(key)
        if cache is not None and int(cache) < usage:
            return usage - int(cache)
    return usage


def cpu_percent(cpu_delta: int, system_delta: int, online_cpus: int) -> float | None:
    """Docker's CPU %: None when the window is empty (first sample, stopped container)."""
    if system_delta <= 0 or cpu_delta < 0:
        return None
    return round(cpu_delta / system_delta * max(online_cpus, 1) * 100.0, 2)


def _rate(now: int, before: int, seconds: float) -> float | None:
    if seconds <= 0 or now < before:  # a counter that went back: the container restarted
        return None
    return round((now - before) / seconds, 1)


def point(current: Totals, previous: Totals | None) -> Point:
    """The chart point for `current`.

    CPU comes from the previous sample's counters when there is one (the window
    between two samples, e.g. 10 s of history) and from the sample's own
    `precpu_stats` otherwise (Docker's live window). Rates need `previous`.
    """
    if previous is not None and previous.system_total:
        cpu = cpu_percent(current.cpu_total - previous.cpu_total, current.system_total - previous.system_total,
                          current.online_cpus)
    elif current.pre_system_total:
        cpu = cpu_percent(current.cpu_total - current.pre_cpu_total, current.system_total - current.pre_system_total,
                          current.online_cpus)
    else:
        cpu = None
    seconds = current.read - previous.read if previous is not None else 0.0
    mem_pct = round(current.mem_usage / current.mem_limit * 100.0, 2) if current.mem_limit else None
    return Point(
        t=round(current.read, 3), cpu=cpu, mem=current.mem_usage, mem_limit=current.mem_limit, mem_pct=mem_pct,
        net_rx=_rate(current.net_rx, previous.net_rx, seconds) if previous else None,
        net_tx=_rate(current.net_tx, previous.net_tx, seconds) if previous else None,
        blk_read=_rate(current.blk_read, previous.blk_read, seconds) if previous else None,
        blk_write=_rate(current.blk_write, previous.blk_write, seconds) if previous else None,
        pids=current.pids,
    )
