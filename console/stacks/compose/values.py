"""Compose's short value syntaxes → canonical values (pure). Each parser raises ValueError with a message
that the normaliser puts on the value's line.

    duration("1m30s") → 90_000_000_000 (ns)      size("512m") → 536870912 (bytes)
    ports("127.0.0.1:8080-8090:3000/udp") → [Port]   volume("data:/srv:ro") → Mount
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from console.stacks.compose.model import Mount, Port

DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
DURATION_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000,
               "h": 3_600_000_000_000}
SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)b?$", re.IGNORECASE)
SIZE_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}
PORT_RE = re.compile(r"^(?:(?:(?P<ip>\[[0-9a-fA-F:.]+\]|[0-9.]+):)?(?P<host>\d*(?:-\d+)?):)?"
                     r"(?P<target>\d+(?:-\d+)?)(?:/(?P<proto>tcp|udp|sctp))?$")


def duration(value: Any) -> int:
    """A compose duration ("10s", "1m30s", "1.5s", 30 = seconds) → nanoseconds."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (write e.g. 10s, 1m30s)")
    if isinstance(value, (int, float)):
        return int(value * 1_000_000_000)
    text, total, pos = str(value).strip(), 0.0, 0
    for match in DURATION_RE.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * DURATION_NS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise ValueError(f"'{value}' is not a duration (write e.g. 10s, 1m30s, 500ms)")
    return int(total)


def size(value: Any) -> int:
    """A size ("512m", "1g", "100k", 1048576) → bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = SIZE_RE.match(str(value).strip())
    if not match:
        raise ValueError(f"'{value}' is not a size (write e.g. 512m, 1g)")
    return int(float(match.group(1)) * SIZE_UNITS[match.group(2).lower()])


def _range(text: str) -> tuple[int, int]:
    first, _, last = text.partition("-")
    low, high = int(first), int(last or first)
    if not (0 < low <= high <= 65535):
        raise ValueError(f"'{text}' is not a port or a range of ports (1-65535, low-high)")
    return low, high


def ports(value: Any) -> list[Port]:
    """One entry of `ports:` (short or long syntax) → the container ports it publishes."""
    if isinstance(value, dict):
        target = int(value["target"])
        published = str(value.get("published") or "")
        if published:
            _range(published)
        return [Port(target, str(value.get("protocol") or "tcp"), published, str(value.get("host_ip") or ""))]
    text = str(value).strip()
    match = PORT_RE.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a port mapping (write [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/udp])")
    ip, host, proto = (match.group("ip") or "").strip("[]"), match.group("host") or "", match.group("proto") or "tcp"
    low, high = _range(match.group("target"))
    if host and high > low:  # a container range maps onto a host range of the same size
        host_low, host_high = _range(host)
        if host_high - host_low != high - low:
            raise ValueError(f"'{text}': the host range and the container range differ in size")
        return [Port(p, proto, str(host_low + i), ip) for i, p in enumerate(range(low, high + 1))]
    if host:
        _range(host)
    return [Port(p, proto, host, ip) for p in range(low, high + 1)]


def is_path(source: str) -> bool:
    return source.startswith(("/", ".", "~")) or "/" in source


def volume(value: Any) -> Mount:
    """One entry of a service's `volumes:` → a Mount (a named volume's source is its compose key)."""
    if isinstance(value, dict):
        kind, source, target = str(value.get("type") or "volume"), str(value.get("source") or ""), str(value["target"])
        if kind == "volume" and not source:
            kind = "anonymous"
        if kind not in ("volume", "bind", "anonymous", "tmpfs"):
            raise ValueError(f"volume type '{kind}' is not supported (volume, bind or tmpfs)")
        return Mount(kind, target, source, bool(value.get("read_only")))
    parts = str(value).split(":")
    if len(parts) == 1:
        return Mount("anonymous", parts[0])
    if len(parts) > 3:
        raise ValueError(f"'{value}' is not a volume (write SOURCE:TARGET[:ro])")
    source, target = parts[0], parts[1]
    mode = parts[2] if len(parts) == 3 else "rw"
    if not set(mode.split(",")) <= {"ro", "rw", "z", "Z", "cached", "delegated", "consistent", "nocopy"}:
        raise ValueError(f"'{mode}' is not a volume mode (ro or rw)")
    if not target.startswith("/"):
        raise ValueError(f"'{value}': the target '{target}' must be an absolute path in the container")
    kind = "bind" if is_path(source) else "volume"
    return Mount(kind, target, source, "ro" in mode.split(","))


def command(value: Any) -> tuple[str, ...] | None:
    """A command or entrypoint: a string is split as a shell would (without running one)."""
    if value is None:
        return None
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    try:
        return tuple(shlex.split(str(value)))
    except ValueError as exc:
        raise ValueError(f"cannot split '{value}' into words: {exc}") from None


def pairs(value: Any, *, keep_bare: bool = False) -> list[tuple[str, str | None]]:
    """A list of "K=V" (or "K") or a mapping → (key, value) pairs; a bare key has value None."""
    if isinstance(value, dict):
        return [(str(k), None if v is None else _scalar(v)) for k, v in value.items()]
    out: list[tuple[str, str | None]] = []
    for item in value or []:
        key, eq, val = str(item).partition("=")
        out.append((key, val if eq else None))
    return out


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
