"""What the container page shows, computed from the engine's inspect JSON (pure, no I/O).

`summarize(inspect, endpoint_url)` → `Summary`: state and health, image and
command, times, restart policy, published ports as links a browser can open
(console.containers.listing's rules), mounts, networks with addresses, limits in
people's units, labels, and the health check with its last probes.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.utils.timesince import timesince

from console.containers.forms import RESTART_CHOICES
from console.containers.listing import PortLink, port_links
from console.metrics.stats import parse_time

BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human_bytes(n: float) -> str:
    """1536 → "1.5 KiB"; whole numbers lose their ".0"."""
    value, unit = float(n), 0
    while abs(value) >= 1024 and unit < len(BINARY_UNITS) - 1:
        value /= 1024
        unit += 1
    text = f"{value:.1f}".removesuffix(".0")
    return f"{text} {BINARY_UNITS[unit]}"


def human_ns(ns: int) -> str:
    """Go-style duration for people: 30000000000 → "30s", 90 s → "1m30s", 500 ms → "500ms"."""
    if ns <= 0:
        return "0s"
    if ns < 1_000_000_000:
        return f"{ns // 1_000_000}ms"
    seconds = ns // 1_000_000_000
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return "".join(f"{v}{u}" for v, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if v) or "0s"


def span_since(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago, for people: "less than a minute", "5 minutes", "2 days, 3 hours"; "" when unknown."""
    if moment is None:
        return ""
    now = now or datetime.now(UTC)
    if (now - moment).total_seconds() < 60:
        return "less than a minute"
    return timesince(moment, now)


def _time(text: str | None) -> datetime | None:
    seconds = parse_time(text)
    return datetime.fromtimestamp(seconds, UTC) if seconds else None


@dataclass(frozen=True)
class Mount:
    type: str
    source: str
    destination: str
    writable: bool
    name: str = ""


@dataclass(frozen=True)
class NetworkAttachment:
    name: str
    ip: str
    ip6: str
    gateway: str
    mac: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Probe:
    start: datetime | None
    duration_ms: int | None
    exit_code: int
    output: str


@dataclass(frozen=True)
class Health:
    """The health check's configuration and its state (status "none" when the container has no check)."""

    status: str
    failing_streak: int = 0
    test: str = ""
    interval: str = ""
    timeout: str = ""
    retries: int = 0
    start_period: str = ""
    probes: tuple[Probe, ...] = ()


@dataclass(frozen=True)
class Summary:
    id: str
    name: str
    image: str
    image_id: str
    status: str  # created | running | paused | restarting | removing | exited | dead
    exit_code: int
    error: str
    created: datetime | None
    started: datetime | None
    finished: datetime | None
    restart_policy: str
    restart_count: int
    command: str
    entrypoint: str
    workdir: str
    user: str
    tty: bool
    health: Health
    ports: tuple[PortLink, ...] = ()
    mounts: tuple[Mount, ...] = ()
    networks: tuple[NetworkAttachment, ...] = ()
    limits: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def running(self) -> bool:
        return self.status in ("running", "paused", "restarting")

    @property
    def up_for(self) -> str:
        return span_since(self.started)

    @property
    def created_ago(self) -> str:
        return span_since(self.created)

    @property
    def finished_ago(self) -> str:
        return span_since(self.finished)


def _join(words: list[str] | None) -> str:
    return shlex.join(words) if words else ""


def _ports(endpoint_url: str, ports: dict[str, Any] | None) -> tuple[PortLink, ...]:
    """Inspect's NetworkSettings.Ports in the list's summary shape, then the list's link rules."""
    rows: list[dict[str, Any]] = []
    for key, bindings in (ports or {}).items():
        private, _, proto = key.partition("/")
        if not bindings:
            rows.append({"PrivatePort": int(private), "Type": proto or "tcp"})
        for b in bindings or []:
            rows.append({"PrivatePort": int(private), "Type": proto or "tcp", "IP": b.get("HostIp", ""),
                         "PublicPort": int(b.get("HostPort") or 0)})
    return port_links(endpoint_url, rows)


def _mounts(mounts: list[dict[str, Any]] | None) -> tuple[Mount, ...]:
    return tuple(Mount(type=m.get("Type", ""), source=m.get("Source", ""), destination=m.get("Destination", ""),
                       writable=bool(m.get("RW", True)), name=m.get("Name", "")) for m in mounts or [])


def _networks(networks: dict[str, Any] | None) -> tuple[NetworkAttachment, ...]:
    found = []
    for name, n in sorted((networks or {}).items()):
        ip = n.get("IPAddress", "")
        ip = f"{ip}/{n['IPPrefixLen']}" if ip and n.get("IPPrefixLen") else ip
        found.append(NetworkAttachment(name=name, ip=ip, ip6=n.get("GlobalIPv6Address", ""),
                                       gateway=n.get("Gateway", ""), mac=n.get("MacAddress", ""),
                                       aliases=tuple(a for a in n.get("Aliases") or [] if a)))
    return tuple(found)


def _limits(host: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The resource limits that are set, in people's units."""
    limits: list[tuple[str, str]] = []
    if host.get("Memory"):
        limits.append(("Memory", human_bytes(host["Memory"])))
    if host.get("MemorySwap") and host["MemorySwap"] > 0:
        limits.append(("Memory + swap", human_bytes(host["MemorySwap"])))
    if host.get("NanoCpus"):
        limits.append(("CPUs", f"{host['NanoCpus'] / 1e9:g}"))
    if host.get("CpuQuota") and host.get("CpuPeriod"):
        limits.append(("CPUs (quota)", f"{host['CpuQuota'] / host['CpuPeriod']:g}"))
    if host.get("CpuShares"):
        limits.append(("CPU shares", str(host["CpuShares"])))
    if host.get("CpusetCpus"):
        limits.append(("CPU set", host["CpusetCpus"]))
    if host.get("PidsLimit") and host["PidsLimit"] > 0:
        limits.append(("Processes", str(host["PidsLimit"])))
    if host.get("BlkioWeight"):
        limits.append(("Block I/O weight", str(host["BlkioWeight"])))
    return tuple(limits)


def _health(config: dict[str, Any], state: dict[str, Any]) -> Health:
    check = config.get("Healthcheck") or {}
    test = check.get("Test") or []
    has_check = bool(test) and test[0] != "NONE"
    live = state.get("Health") or {}
    if not has_check and not live:
        return Health(status="none")
    if test and test[0] == "CMD-SHELL":
        shown = " ".join(test[1:])
    else:
        shown = _join(test[1:] if test and test[0] == "CMD" else test)
    probes = []
    for p in reversed(live.get("Log") or []):  # newest first
        start, end = parse_time(p.get("Start")), parse_time(p.get("End"))
        probes.append(Probe(start=_time(p.get("Start")),
                            duration_ms=int((end - start) * 1000) if start and end and end >= start else None,
                            exit_code=int(p.get("ExitCode", -1)), output=str(p.get("Output", "")).rstrip()))
    return Health(
        status=live.get("Status") or "starting", failing_streak=int(live.get("FailingStreak") or 0), test=shown,
        interval=human_ns(check.get("Interval") or 30_000_000_000),
        timeout=human_ns(check.get("Timeout") or 30_000_000_000), retries=int(check.get("Retries") or 3),
        start_period=human_ns(check.get("StartPeriod") or 0), probes=tuple(probes),
    )


def _restart_policy(host: dict[str, Any]) -> str:
    """The policy in the create form's words ("Never", "On failure (at most 3 retries)")."""
    policy = host.get("RestartPolicy") or {}
    name = policy.get("Name") or "no"
    label = dict(RESTART_CHOICES).get(name, name)
    if name == "on-failure" and policy.get("MaximumRetryCount"):
        return f"{label} (at most {policy['MaximumRetryCount']} retries)"
    return label


def summarize(inspect: dict[str, Any], endpoint_url: str) -> Summary:
    """The page's view of one container (see the module doc)."""
    config = inspect.get("Config") or {}
    state = inspect.get("State") or {}
    host = inspect.get("HostConfig") or {}
    net = inspect.get("NetworkSettings") or {}
    started = _time(state.get("StartedAt"))
    return Summary(
        id=inspect.get("Id", ""), name=(inspect.get("Name") or "").lstrip("/"),
        image=config.get("Image") or inspect.get("Image", ""), image_id=inspect.get("Image", ""),
        status=state.get("Status", "unknown"), exit_code=int(state.get("ExitCode") or 0),
        error=state.get("Error") or "", created=_time(inspect.get("Created")), started=started,
        finished=_time(state.get("FinishedAt")), restart_policy=_restart_policy(host),
        restart_count=int(inspect.get("RestartCount") or 0),
        command=_join([inspect.get("Path", "")] + list(inspect.get("Args") or [])) if inspect.get("Path") else "",
        entrypoint=_join(config.get("Entrypoint")), workdir=config.get("WorkingDir") or "",
        user=config.get("User") or "", tty=bool(config.get("Tty")), health=_health(config, state),
        ports=_ports(endpoint_url, net.get("Ports")), mounts=_mounts(inspect.get("Mounts")),
        networks=_networks(net.get("Networks")), limits=_limits(host),
        labels=tuple(sorted((config.get("Labels") or {}).items())),
    )
