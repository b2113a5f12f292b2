"""Parsers for what people type into the create form: sizes, durations, port ranges, .env files, names.

Pure functions. Each returns the value the Docker Engine API wants, or raises
ValueError with a message that says what a valid value looks like (forms show it
under the field as it is).
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from decimal import Decimal, InvalidOperation

# Docker's units: k/m/g/t are powers of 1024 (`docker run -m 512m`); "MiB"/"MB" spellings are accepted too.
SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)

DURATION_UNITS_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
DURATION_PART_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")

# Docker's container names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (one character is allowed too).
NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
ENV_NAME_RE = re.compile(r"^[^=\s]+$")
ENV_LINE_RE = re.compile(r"^(?:export\s+)?([^=\s]+)\s*=\s?(.*)$")

PROTOCOLS = ("tcp", "udp", "sctp")


def parse_size(text: str) -> int:
    """Bytes from "512m", "1g", "256MiB", "1.5g" or a plain number of bytes."""
    match = SIZE_RE.match(text)
    if not match:
        raise ValueError("write a size such as 512m, 1g or 268435456 (bytes)")
    number, unit = match.groups()
    return int(Decimal(number) * SIZE_UNITS[unit.lower()])


def parse_duration_ns(text: str) -> int:
    """Nanoseconds from a Go-style duration: "30s", "1m30s", "500ms", "2h"; a bare number means seconds."""
    text = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return int(Decimal(text) * 10**9)
    parts = DURATION_PART_RE.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError("write a duration such as 30s, 1m30s or 500ms")
    return int(sum(Decimal(n) * DURATION_UNITS_NS[u] for n, u in parts))


def parse_cpus(text: str) -> int:
    """NanoCpus from a number of CPUs ("0.5", "2")."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError("write a number of CPUs such as 0.5 or 2") from None
    if value <= 0:
        raise ValueError("must be more than 0")
    nano = int(value * 10**9)
    if nano < 10**7:
        raise ValueError("must be at least 0.01")
    return nano


def parse_port_range(text: str) -> tuple[int, int]:
    """(first, last) from "80" or "8000-8010"; ports are 1-65535 and the range must not run backwards."""
    text = text.strip()
    lo_text, dash, hi_text = text.partition("-")
    try:
        lo = int(lo_text)
        hi = int(hi_text) if dash else lo
    except ValueError:
        raise ValueError("write a port (80) or a range (8000-8010)") from None
    if not (1 <= lo <= 65535 and 1 <= hi <= 65535):
        raise ValueError("ports are between 1 and 65535")
    if hi < lo:
        raise ValueError("the range runs backwards")
    return lo, hi


def parse_host_ip(text: str) -> str:
    """An IPv4 or IPv6 address, or "" for all addresses."""
    text = text.strip().strip("[]")
    if not text:
        return ""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError("write an IP address such as 127.0.0.1, or leave it empty for all addresses") from None


def split_command(text: str) -> list[str]:
    """argv from a command line as a shell would split it ("sh -c 'echo hi'")."""
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise ValueError(f"cannot split this command: {exc}") from None


def check_container_name(text: str) -> str:
    name = text.strip().lstrip("/")
    if name and not NAME_RE.match(name):
        raise ValueError("use letters, digits, '_', '.' and '-', starting with a letter or digit")
    return name


def check_env_name(text: str) -> str:
    name = text.strip()
    if not ENV_NAME_RE.match(name):
        raise ValueError("a variable name has no spaces and no '='")
    return name


def parse_env_file(text: str) -> list[tuple[str, str]]:
    """(name, value) pairs from the text of a .env file.

    Blank lines and lines starting with # are skipped; `export NAME=value` is
    accepted; a value in matching single or double quotes loses them (double
    quotes also understand \\n, \\" and \\\\). A line that is not NAME=value is an
    error naming its line number.
    """
    pairs: list[tuple[str, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = ENV_LINE_RE.match(line)
        if not match:
            raise ValueError(f"line {number}: expected NAME=value, got {line[:40]!r}")
        pairs.append((match.group(1), _unquote(match.group(2).strip())))
    return pairs


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1]
    if len(value) >= 2 and value[0] == value[-1] == '"':
        inner = value[1:-1]
        return re.sub(r"\\([n\"\\])", lambda m: "\n" if m.group(1) == "n" else m.group(1), inner)
    if " #" in value:  # an inline comment after an unquoted value
        value = value.split(" #", 1)[0].rstrip()
    return value


def split_words(text: str) -> list[str]:
    """Items of a comma- or space-separated list ("web, api db" → ["web", "api", "db"])."""
    return [w for w in re.split(r"[\s,]+", text.strip()) if w]
