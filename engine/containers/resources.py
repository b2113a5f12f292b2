"""Resource limits: Docker's validation, defaults and warnings, and the OCI form (pure).

`HostSupport` says what this kernel's cgroups can enforce (read once by
`engine.containers.cgroups`). A limit the kernel cannot enforce is dropped with
Docker's warning text; an impossible value is a 400 with Docker's message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import InvalidArgument

MIN_MEMORY = 6 * 1024 * 1024
MIN_CPU_SHARES, MAX_CPU_SHARES = 2, 262144
DEFAULT_CPU_PERIOD = 100_000


@dataclass(frozen=True)
class HostSupport:
    version: int = 1
    memory: bool = True
    swap: bool = True
    cpu_shares: bool = True
    cpu_cfs: bool = True
    cpuset: bool = True
    pids: bool = True
    blkio_weight: bool = False
    ncpu: int = 1
    cpus_online: str = "0"
    mems_online: str = "0"


def parse_cpuset(text: str) -> set[int]:
    out: set[int] = set()
    if not text:
        return out
    for part in text.split(","):
        part = part.strip()
        if not part:
            raise ValueError(text)
        lo, dash, hi = part.partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            raise ValueError(text)
        start, end = int(lo), int(hi) if dash else int(lo)
        if end < start:
            raise ValueError(text)
        out.update(range(start, end + 1))
    return out


def normalize(hc: dict[str, Any], host: HostSupport) -> list[str]:
    """Validate the resource fields of a host config in place; return warnings."""
    warnings: list[str] = []
    memory = int(hc.get("Memory") or 0)
    swap = int(hc.get("MemorySwap") or 0)
    reservation = int(hc.get("MemoryReservation") or 0)
    if memory < 0:
        raise InvalidArgument("invalid memory limit: must be a positive value")
    if memory and memory < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if memory and not host.memory:
        warnings.append("Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.")
        hc["Memory"] = memory = 0
    if swap > 0 and not host.swap:
        warnings.append("Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.")
        hc["MemorySwap"] = swap = -1
    if memory > 0 and swap > 0 and swap < memory:
        raise InvalidArgument("Minimum memoryswap limit should be larger than memory limit, see usage")
    if memory == 0 and swap > 0:
        raise InvalidArgument("You should always set the Memory limit when using Memoryswap limit, see usage")
    if memory > 0 and swap == 0 and host.swap:
        hc["MemorySwap"] = memory * 2
    swappiness = hc.get("MemorySwappiness")
    if swappiness is not None and swappiness != -1 and not 0 <= swappiness <= 100:
        raise InvalidArgument(f"Invalid value: {swappiness}, valid memory swappiness range is 0-100")
    if reservation and reservation < MIN_MEMORY:
        raise InvalidArgument("Minimum memory reservation allowed is 6MB")
    if memory > 0 and reservation > 0 and memory < reservation:
        raise InvalidArgument("Minimum memory limit can not be less than memory reservation limit, see usage")
    if hc.get("OomKillDisable") and memory == 0:
        warnings.append("OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.")
    if int(hc.get("KernelMemory") or 0):
        warnings.append("Specifying a kernel memory limit is deprecated and will be removed in a future release.")

    shares = int(hc.get("CpuShares") or 0)
    if shares and not host.cpu_shares:
        warnings.append("Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.")
        hc["CpuShares"] = shares = 0
    if shares < 0:
        hc["CpuShares"] = MIN_CPU_SHARES
    elif shares > MAX_CPU_SHARES:
        hc["CpuShares"] = MAX_CPU_SHARES
    nano = int(hc.get("NanoCpus") or 0)
    period = int(hc.get("CpuPeriod") or 0)
    quota = int(hc.get("CpuQuota") or 0)
    if nano and period:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if nano and quota:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    if nano < 0 or nano > host.ncpu * 1_000_000_000:
        raise InvalidArgument(
            f"Range of CPUs is from 0.01 to {host.ncpu}.00, as there are only {host.ncpu} CPUs available"
        )
    if nano and nano < 10_000_000:
        raise InvalidArgument(f"Range of CPUs is from 0.01 to {host.ncpu}.00, as there are only {host.ncpu} CPUs available")
    if period and not 1000 <= period <= 1_000_000:
        raise InvalidArgument("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
    if quota > 0 and quota < 1000:
        raise InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    if (nano or period or quota) and not host.cpu_cfs:
        warnings.append("Your kernel does not support CPU CFS scheduler. CPU period/quota discarded.")
        hc["NanoCpus"] = hc["CpuPeriod"] = hc["CpuQuota"] = 0
    for key, available, label in (("CpusetCpus", host.cpus_online, "cpus"), ("CpusetMems", host.mems_online, "mems")):
        value = hc.get(key) or ""
        if not value:
            continue
        try:
            wanted = parse_cpuset(value)
        except ValueError:
            raise InvalidArgument(f"Invalid value {value} for cpuset {label}") from None
        try:
            have = parse_cpuset(available)
        except ValueError:
            have = wanted
        if not wanted <= have:
            kind = "CPUs" if label == "cpus" else "memory nodes"
            raise InvalidArgument(f"Requested {kind} are not available - requested {value}, available: {available}")

    weight = int(hc.get("BlkioWeight") or 0)
    if weight and not host.blkio_weight:
        warnings.append("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.")
        hc["BlkioWeight"] = weight = 0
    if weight and not 10 <= weight <= 1000:
        raise InvalidArgument("Range of blkio weight is from 10 to 1000")

    pids = hc.get("PidsLimit")
    if pids is not None and pids <= 0:
        hc["PidsLimit"] = None
    elif pids and not host.pids:
        warnings.append("Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.")
        hc["PidsLimit"] = None
    shm = int(hc.get("ShmSize") or 0)
    if shm < 0:
        raise InvalidArgument("SHM size can not be less than 0")
    return warnings


def oci_resources(hc: dict[str, Any], privileged: bool) -> dict[str, Any]:
    res: dict[str, Any] = {"devices": [{"allow": privileged, "access": "rwm"}]}
    memory: dict[str, Any] = {}
    if int(hc.get("Memory") or 0) > 0:
        memory["limit"] = int(hc["Memory"])
    swap = int(hc.get("MemorySwap") or 0)
    if swap and memory.get("limit"):
        memory["swap"] = swap
    if int(hc.get("MemoryReservation") or 0) > 0:
        memory["reservation"] = int(hc["MemoryReservation"])
    swappiness = hc.get("MemorySwappiness")
    if swappiness is not None and swappiness >= 0:
        memory["swappiness"] = int(swappiness)
    if hc.get("OomKillDisable"):
        memory["disableOOMKiller"] = True
    if memory:
        res["memory"] = memory
    cpu: dict[str, Any] = {}
    if int(hc.get("CpuShares") or 0):
        cpu["shares"] = int(hc["CpuShares"])
    nano = int(hc.get("NanoCpus") or 0)
    if nano:
        cpu["period"] = DEFAULT_CPU_PERIOD
        cpu["quota"] = nano * DEFAULT_CPU_PERIOD // 1_000_000_000
    else:
        if int(hc.get("CpuPeriod") or 0):
            cpu["period"] = int(hc["CpuPeriod"])
        if int(hc.get("CpuQuota") or 0):
            cpu["quota"] = int(hc["CpuQuota"])
    if hc.get("CpusetCpus"):
        cpu["cpus"] = hc["CpusetCpus"]
    if hc.get("CpusetMems"):
        cpu["mems"] = hc["CpusetMems"]
    if cpu:
        res["cpu"] = cpu
    if hc.get("PidsLimit"):
        res["pids"] = {"limit": int(hc["PidsLimit"])}
    if int(hc.get("BlkioWeight") or 0):
        res["blockIO"] = {"weight": int(hc["BlkioWeight"])}
    return res
