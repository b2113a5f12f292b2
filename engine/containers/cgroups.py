"""Reading cgroups, v1 (per-controller hierarchies) and v2 (unified): what the
kernel supports, a container's processes, and Docker-shaped stats.

runc creates and removes the container cgroups (cgroupfs driver, path
`/<parent>/<id>`); this module only reads them, and removes an empty parent
directory on cleanup.
"""

from __future__ import annotations

import os
import time
from typing import Any

from engine.containers.resources import HostSupport
from engine.util.timefmt import rfc3339

ROOT = "/sys/fs/cgroup"
CLK_TCK = os.sysconf("SC_CLK_TCK")
NS_PER_TICK = 1_000_000_000 // CLK_TCK


def _read(path: str, default: str = "") -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except (FileNotFoundError, ProcessLookupError, PermissionError, OSError):
        return default


def _int(path: str, default: int = 0) -> int:
    text = _read(path)
    if not text or text == "max":
        return default
    try:
        return int(text.split()[0])
    except ValueError:
        return default


def _kv(path: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in _read(path).splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                pass
    return out


def unified() -> bool:
    return os.path.exists(os.path.join(ROOT, "cgroup.controllers"))


def detect_support() -> HostSupport:
    ncpu = os.cpu_count() or 1
    cpus = _read("/sys/devices/system/cpu/online", f"0-{ncpu - 1}" if ncpu > 1 else "0")
    mems = _read("/sys/devices/system/node/online", "0")
    if unified():
        controllers = set(_read(os.path.join(ROOT, "cgroup.controllers")).split())
        return HostSupport(
            version=2, memory="memory" in controllers, swap="memory" in controllers,
            cpu_shares="cpu" in controllers, cpu_cfs="cpu" in controllers, cpuset="cpuset" in controllers,
            pids="pids" in controllers, blkio_weight="io" in controllers and os.path.exists(os.path.join(ROOT, "io.bfq.weight")),
            ncpu=ncpu, cpus_online=cpus, mems_online=mems,
        )
    return HostSupport(
        version=1,
        memory=os.path.exists(os.path.join(ROOT, "memory", "memory.limit_in_bytes")),
        swap=os.path.exists(os.path.join(ROOT, "memory", "memory.memsw.limit_in_bytes")),
        cpu_shares=os.path.exists(os.path.join(ROOT, "cpu", "cpu.shares")),
        cpu_cfs=os.path.exists(os.path.join(ROOT, "cpu", "cpu.cfs_quota_us")),
        cpuset=os.path.exists(os.path.join(ROOT, "cpuset")),
        pids=os.path.exists(os.path.join(ROOT, "pids", "cgroup.procs")),
        blkio_weight=os.path.exists(os.path.join(ROOT, "blkio", "blkio.weight")),
        ncpu=ncpu, cpus_online=cpus, mems_online=mems,
    )


def controller_dir(controller: str, cgroups_path: str) -> str:
    rel = cgroups_path.lstrip("/")
    if unified():
        return os.path.join(ROOT, rel)
    return os.path.join(ROOT, controller, rel)


def pids(cgroups_path: str) -> list[int]:
    """Every process in the container's cgroup (including nested cgroups)."""
    base = controller_dir("pids", cgroups_path) if not unified() else controller_dir("", cgroups_path)
    if not unified() and not os.path.isdir(base):
        base = controller_dir("memory", cgroups_path)
    found: list[int] = []
    for dirpath, _dirs, files in os.walk(base):
        if "cgroup.procs" in files:
            for line in _read(os.path.join(dirpath, "cgroup.procs")).split():
                if line.isdigit():
                    found.append(int(line))
    return sorted(set(found))


def system_cpu_usage() -> int:
    """Host CPU time in ns, as Docker computes it from /proc/stat."""
    for line in _read("/proc/stat").splitlines():
        if line.startswith("cpu "):
            return sum(int(x) for x in line.split()[1:8]) * NS_PER_TICK
    return 0


def mem_total() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def _net_stats(pid: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not pid:
        return out
    lines = _read(f"/proc/{pid}/net/dev").splitlines()[2:]
    for line in lines:
        name, _, rest = line.partition(":")
        name = name.strip()
        if name == "lo":
            continue
        v = [int(x) for x in rest.split()]
        if len(v) < 16:
            continue
        out[name] = {
            "rx_bytes": v[0], "rx_packets": v[1], "rx_errors": v[2], "rx_dropped": v[3],
            "tx_bytes": v[8], "tx_packets": v[9], "tx_errors": v[10], "tx_dropped": v[11],
        }
    return out


def _cpu_v1(path: str) -> dict[str, Any]:
    acct = controller_dir("cpuacct", path)
    cpu = controller_dir("cpu", path)
    stat = _kv(os.path.join(acct, "cpuacct.stat"))
    percpu = [int(x) for x in _read(os.path.join(acct, "cpuacct.usage_percpu")).split() if x.isdigit()]
    throttle = _kv(os.path.join(cpu, "cpu.stat"))
    return {
        "cpu_usage": {
            "total_usage": _int(os.path.join(acct, "cpuacct.usage")),
            "percpu_usage": percpu[: os.cpu_count() or len(percpu)],
            "usage_in_kernelmode": stat.get("system", 0) * NS_PER_TICK,
            "usage_in_usermode": stat.get("user", 0) * NS_PER_TICK,
        },
        "system_cpu_usage": system_cpu_usage(),
        "online_cpus": os.cpu_count() or 1,
        "throttling_data": {
            "periods": throttle.get("nr_periods", 0),
            "throttled_periods": throttle.get("nr_throttled", 0),
            "throttled_time": throttle.get("throttled_time", 0),
        },
    }


def _cpu_v2(path: str) -> dict[str, Any]:
    d = controller_dir("", path)
    stat = _kv(os.path.join(d, "cpu.stat"))
    return {
        "cpu_usage": {
            "total_usage": stat.get("usage_usec", 0) * 1000,
            "usage_in_kernelmode": stat.get("system_usec", 0) * 1000,
            "usage_in_usermode": stat.get("user_usec", 0) * 1000,
        },
        "system_cpu_usage": system_cpu_usage(),
        "online_cpus": os.cpu_count() or 1,
        "throttling_data": {
            "periods": stat.get("nr_periods", 0),
            "throttled_periods": stat.get("nr_throttled", 0),
            "throttled_time": stat.get("throttled_usec", 0) * 1000,
        },
    }


def _blkio_v1(path: str) -> dict[str, Any]:
    d = controller_dir("blkio", path)

    def entries(name: str) -> list[dict[str, Any]]:
        rows = []
        for line in _read(os.path.join(d, name)).splitlines():
            parts = line.split()
            if len(parts) == 3 and ":" in parts[0]:
                major, _, minor = parts[0].partition(":")
                rows.append({"major": int(major), "minor": int(minor), "op": parts[1], "value": int(parts[2])})
        return rows

    return {
        "io_service_bytes_recursive": entries("blkio.throttle.io_service_bytes_recursive")
        or entries("blkio.io_service_bytes_recursive"),
        "io_serviced_recursive": entries("blkio.throttle.io_serviced_recursive") or entries("blkio.io_serviced_recursive"),
        "io_queue_recursive": [], "io_service_time_recursive": [], "io_wait_time_recursive": [],
        "io_merged_recursive": [], "io_time_recursive": [], "sectors_recursive": [],
    }


def _blkio_v2(path: str) -> dict[str, Any]:
    rows_bytes, rows_ops = [], []
    for line in _read(os.path.join(controller_dir("", path), "io.stat")).splitlines():
        parts = line.split()
        if not parts or ":" not in parts[0]:
            continue
        major, _, minor = parts[0].partition(":")
        vals = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        for key, op in (("rbytes", "read"), ("wbytes", "write")):
            rows_bytes.append({"major": int(major), "minor": int(minor), "op": op, "value": int(vals.get(key, 0))})
        for key, op in (("rios", "read"), ("wios", "write")):
            rows_ops.append({"major": int(major), "minor": int(minor), "op": op, "value": int(vals.get(key, 0))})
    return {"io_service_bytes_recursive": rows_bytes or None, "io_serviced_recursive": rows_ops or None,
            "io_queue_recursive": None, "io_service_time_recursive": None, "io_wait_time_recursive": None,
            "io_merged_recursive": None, "io_time_recursive": None, "sectors_recursive": None}


def _memory_v1(path: str) -> dict[str, Any]:
    d = controller_dir("memory", path)
    limit = _int(os.path.join(d, "memory.limit_in_bytes"))
    total = mem_total()
    if not limit or limit >= total or limit > 2**62:
        limit = total
    return {
        "usage": _int(os.path.join(d, "memory.usage_in_bytes")),
        "max_usage": _int(os.path.join(d, "memory.max_usage_in_bytes")),
        "stats": _kv(os.path.join(d, "memory.stat")),
        "failcnt": _int(os.path.join(d, "memory.failcnt")),
        "limit": limit,
    }


def _memory_v2(path: str) -> dict[str, Any]:
    d = controller_dir("", path)
    limit = _int(os.path.join(d, "memory.max"), 0)
    total = mem_total()
    if not limit or limit > total:
        limit = total
    return {"usage": _int(os.path.join(d, "memory.current")), "stats": _kv(os.path.join(d, "memory.stat")), "limit": limit}


def sample(cgroups_path: str, pid: int) -> dict[str, Any]:
    """One stats sample without precpu_stats (the caller pairs two samples)."""
    v2 = unified()
    pids_dir = controller_dir("pids" if not v2 else "", cgroups_path)
    pids_limit = _read(os.path.join(pids_dir, "pids.max"))
    pids_stats: dict[str, Any] = {"current": _int(os.path.join(pids_dir, "pids.current"))}
    if pids_limit and pids_limit != "max":
        pids_stats["limit"] = int(pids_limit)
    return {
        "read": rfc3339(time.time_ns()),
        "pids_stats": pids_stats,
        "blkio_stats": _blkio_v2(cgroups_path) if v2 else _blkio_v1(cgroups_path),
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": _cpu_v2(cgroups_path) if v2 else _cpu_v1(cgroups_path),
        "memory_stats": _memory_v2(cgroups_path) if v2 else _memory_v1(cgroups_path),
        "networks": _net_stats(pid),
    }


def oom_kill_count(cgroups_path: str) -> int:
    if unified():
        return _kv(os.path.join(controller_dir("", cgroups_path), "memory.events")).get("oom_kill", 0)
    return _kv(os.path.join(controller_dir("memory", cgroups_path), "memory.oom_control")).get("oom_kill", 0)


def remove_parent(parent: str) -> None:
    """Remove the engine's (empty) parent cgroup from every hierarchy at shutdown."""
    rel = parent.strip("/")
    if not rel:
        return
    if unified():
        dirs = [os.path.join(ROOT, rel)]
    else:
        dirs = [os.path.join(ROOT, c, rel) for c in os.listdir(ROOT) if os.path.isdir(os.path.join(ROOT, c))]
    for d in dirs:
        try:
            os.rmdir(d)
        except OSError:
            pass
