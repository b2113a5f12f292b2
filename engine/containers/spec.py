"""The OCI runtime spec builder (pure): container settings in, `config.json` out.

Everything Docker decides about a container's isolation is here: the default
capability set, the masked and read-only /proc and /sys paths, the default
mounts of /dev, /proc, /sys and /dev/shm, the cgroup limits, rlimits and the
seccomp policy. `build_spec` returns a dict; `engine.containers.runtime` writes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.containers import seccomp
from engine.errors import InvalidArgument

DEFAULT_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)
ALL_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
    "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)
MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
DEFAULT_SHM_SIZE = 64 * 1024 * 1024
DEFAULT_NOFILE = 1048576


def default_nofile() -> int:
    """Docker's containers get 1048576 open files where the host allows it, else the engine's own hard limit."""
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        return DEFAULT_NOFILE
    return min(DEFAULT_NOFILE, hard)

RLIMITS = {
    "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA", "fsize": "RLIMIT_FSIZE",
    "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK", "msgqueue": "RLIMIT_MSGQUEUE",
    "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE", "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS",
    "rtprio": "RLIMIT_RTPRIO", "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING",
    "stack": "RLIMIT_STACK", "as": "RLIMIT_AS",
}


CAP_NUMBERS = {name: i for i, name in enumerate((
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
))}


def bounding_caps(status_text: str) -> tuple[str, ...]:
    """The capabilities in a CapBnd mask from /proc/<pid>/status: what the engine itself may grant."""
    for line in status_text.splitlines():
        if line.startswith("CapBnd:"):
            mask = int(line.split()[1], 16)
            return tuple(c for c in ALL_CAPS if mask >> CAP_NUMBERS[c] & 1)
    return ALL_CAPS


def _engine_caps() -> tuple[str, ...]:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            return bounding_caps(f.read())
    except OSError:
        return ALL_CAPS


ENGINE_CAPS = _engine_caps()


def normalize_cap(name: str) -> str:
    upper = name.strip().upper()
    if upper == "ALL":
        return "ALL"
    return upper if upper.startswith("CAP_") else "CAP_" + upper


def capabilities(cap_add: list[str] | None, cap_drop: list[str] | None, privileged: bool) -> list[str]:
    """Docker's TweakCapabilities: ALL in adds wins, ALL in drops keeps only adds, else drop then add."""
    if privileged:
        return list(ENGINE_CAPS)
    adds = [normalize_cap(c) for c in cap_add or []]
    drops = [normalize_cap(c) for c in cap_drop or []]
    for cap in adds + drops:
        if cap != "ALL" and cap not in ALL_CAPS:
            raise InvalidArgument(f"unknown capability: {cap!r}")
    if "ALL" in adds:
        return [c for c in ENGINE_CAPS if c not in drops]
    if "ALL" in drops:
        return list(dict.fromkeys(adds))
    caps = [c for c in DEFAULT_CAPS if c not in drops]
    return list(dict.fromkeys(caps + adds))


def parse_ulimits(ulimits: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    nofile = default_nofile()
    out: dict[str, dict[str, Any]] = {"RLIMIT_NOFILE": {"type": "RLIMIT_NOFILE", "hard": nofile, "soft": nofile}}
    for item in ulimits or []:
        name = str(item.get("Name", "")).lower()
        if name not in RLIMITS:
            raise InvalidArgument(f"invalid ulimit type: {name}")
        soft, hard = int(item.get("Soft", 0)), int(item.get("Hard", 0))
        if soft > hard and hard >= 0:
            raise InvalidArgument(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
        key = RLIMITS[name]
        out[key] = {"type": key, "hard": hard if hard >= 0 else 2**64 - 1, "soft": soft if soft >= 0 else 2**64 - 1}
    return list(out.values())


@dataclass(frozen=True)
class SpecInputs:
    rootfs: str
    args: list[str]
    env: list[str]
    cwd: str
    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    hostname: str
    terminal: bool = False
    console_size: tuple[int, int] = (0, 0)
    domainname: str = ""
    readonly_rootfs: bool = False
    capabilities: tuple[str, ...] = DEFAULT_CAPS
    privileged: bool = False
    no_new_privileges: bool = False
    seccomp_profile: dict[str, Any] | None = None
    namespaces: tuple[tuple[str, str | None], ...] = ()
    cgroups_path: str = ""
    resources: dict[str, Any] = field(default_factory=dict)
    mounts: tuple[dict[str, Any], ...] = ()
    rlimits: tuple[dict[str, Any], ...] = ()
    oom_score_adj: int | None = None
    sysctls: dict[str, str] = field(default_factory=dict)
    devices: tuple[dict[str, Any], ...] = ()
    masked_paths: tuple[str, ...] | None = None
    readonly_paths: tuple[str, ...] | None = None
    shm_size: int = DEFAULT_SHM_SIZE
    ipc_private: bool = True


def default_mounts(shm_size: int, privileged: bool, ipc_private: bool) -> list[dict[str, Any]]:
    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "rw" if privileged else "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "rw" if privileged else "ro"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    ]
    if ipc_private:
        mounts.append({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                       "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={shm_size}"]})
    return mounts


def build_spec(inp: SpecInputs) -> dict[str, Any]:
    caps = list(inp.capabilities)
    process: dict[str, Any] = {
        "terminal": inp.terminal,
        "user": {"uid": inp.uid, "gid": inp.gid, **({"additionalGids": list(inp.additional_gids)} if inp.additional_gids else {})},
        "args": inp.args,
        "env": inp.env,
        "cwd": inp.cwd or "/",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "rlimits": list(inp.rlimits) or parse_ulimits(None),
        "noNewPrivileges": inp.no_new_privileges,
    }
    if inp.terminal and inp.console_size[0] and inp.console_size[1]:
        process["consoleSize"] = {"height": inp.console_size[0], "width": inp.console_size[1]}
    if inp.oom_score_adj is not None:
        process["oomScoreAdj"] = inp.oom_score_adj
    mounts = default_mounts(inp.shm_size, inp.privileged, inp.ipc_private)
    user_destinations = {m["destination"] for m in inp.mounts}
    mounts = [m for m in mounts if m["destination"] not in user_destinations]
    mounts += list(inp.mounts)
    linux: dict[str, Any] = {
        "resources": inp.resources,
        "cgroupsPath": inp.cgroups_path,
        "namespaces": [{"type": t, **({"path": p} if p else {})} for t, p in inp.namespaces],
        "sysctl": dict(inp.sysctls),
    }
    if not inp.privileged:
        linux["maskedPaths"] = list(inp.masked_paths if inp.masked_paths is not None else MASKED_PATHS)
        linux["readonlyPaths"] = list(inp.readonly_paths if inp.readonly_paths is not None else READONLY_PATHS)
    if inp.seccomp_profile is not None:
        linux["seccomp"] = inp.seccomp_profile
    if inp.devices:
        linux["devices"] = list(inp.devices)
    spec: dict[str, Any] = {
        "ociVersion": "1.0.2-dev",
        "process": process,
        "root": {"path": inp.rootfs, "readonly": inp.readonly_rootfs},
        "hostname": inp.hostname,
        "mounts": mounts,
        "linux": linux,
    }
    if inp.domainname:
        spec["domainname"] = inp.domainname
    return spec


def default_seccomp(caps: list[str]) -> dict[str, Any]:
    return seccomp.default_profile(caps)
