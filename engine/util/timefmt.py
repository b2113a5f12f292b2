"""Time as Docker writes and reads it (pure).

Timestamps are kept as integer nanoseconds since the epoch; on the wire they are
RFC3339 with nanoseconds in UTC ("2026-11-27T17:00:17.123456789Z"), integer unix
seconds in list responses, and human durations in `docker ps`'s Status column.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from engine.errors import InvalidArgument

ZERO_TIME = "0001-01-01T00:00:00Z"

_RFC3339_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:?\d{2})?$"
)
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}


def now_ns() -> int:
    return time.time_ns()


def rfc3339(ns: int) -> str:
    if ns <= 0:
        return ZERO_TIME
    secs, frac = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(secs, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        return f"{base}.{frac:09d}".rstrip("0") + "Z"
    return base + "Z"


def rfc3339_fixed(ns: int) -> str:
    """Nanoseconds always printed with 9 digits (log timestamps, as `docker logs -t`)."""
    secs, frac = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(secs, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{frac:09d}Z"


def rfc3339_now() -> str:
    return rfc3339(now_ns())


def parse_rfc3339(text: str) -> int:
    """RFC3339 (any offset, up to 9 fractional digits) → ns since the epoch."""
    m = _RFC3339_RE.match(text.strip())
    if not m:
        raise InvalidArgument(f"invalid timestamp {text!r}")
    y, mo, d, h, mi, s, frac, tz = m.groups()
    dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=UTC)
    ns = int(dt.timestamp()) * 1_000_000_000
    if frac:
        ns += int(frac.ljust(9, "0"))
    if tz and tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        offset = (int(digits[:2]) * 3600 + int(digits[2:]) * 60) * 1_000_000_000
        ns -= sign * offset
    return ns


def parse_go_duration(text: str) -> int:
    """Go duration ("1m30s", "10m", "500ms") → ns."""
    pos = 0
    total = 0
    text = text.strip()
    if not text:
        raise InvalidArgument("empty duration")
    for m in _DURATION_RE.finditer(text):
        if m.start() != pos:
            raise InvalidArgument(f"invalid duration {text!r}")
        total += int(float(m.group(1)) * _UNITS[m.group(2)])
        pos = m.end()
    if pos != len(text):
        if text == "0":
            return 0
        raise InvalidArgument(f"invalid duration {text!r}")
    return total


def parse_time_arg(text: str, now: int | None = None) -> int:
    """A since/until value: unix seconds (with optional fraction), RFC3339, or a Go duration ago."""
    text = text.strip()
    if not text:
        raise InvalidArgument("empty time value")
    if re.fullmatch(r"\d+(\.\d{1,9})?", text):
        secs, _, frac = text.partition(".")
        return int(secs) * 1_000_000_000 + (int(frac.ljust(9, "0")) if frac else 0)
    if _RFC3339_RE.match(text):
        return parse_rfc3339(text)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return parse_rfc3339(text + "T00:00:00Z")
    return (now if now is not None else now_ns()) - parse_go_duration(text)


def human_duration(seconds: float) -> str:
    """Docker's units.HumanDuration: 'Less than a second', '5 minutes', 'About an hour'."""
    if seconds < 1:
        return "Less than a second"
    if seconds < 2:
        return "1 second"
    s = int(seconds)
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"


def parse_duration_ns(value: object, name: str) -> int:
    if value in (None, ""):
        return 0
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidArgument(f"{name} must be an integer number of nanoseconds")
    return value
