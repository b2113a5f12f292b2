"""Published ports: parsing Docker's PortBindings, and choosing and holding host ports.

A host port is held by a bound (never listening) socket for as long as the
container runs: conmon keeps the socket open, so nothing else on the host can
take the port, and a port in use elsewhere is found by the bind failing — which
gives Docker's "port is already allocated" before anything is set up.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any

from engine.errors import Conflict, InvalidArgument

PROTOCOLS = ("tcp", "udp", "sctp")


@dataclass(frozen=True)
class PortRequest:
    container_port: int
    proto: str
    host_ip: str  # "" for every address
    low: int  # 0: any free ephemeral port
    high: int

    @property
    def key(self) -> str:
        return f"{self.container_port}/{self.proto}"


def parse_port_key(key: str) -> tuple[int, str]:
    port, _, proto = key.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in PROTOCOLS:
        raise InvalidArgument(f"invalid proto: {proto}")
    if not port.isdigit() or not 0 < int(port) <= 65535:
        raise InvalidArgument(f"invalid containerPort: {port}")
    return int(port), proto


def _parse_host_port(text: str) -> tuple[int, int]:
    text = (text or "").strip()
    if not text:
        return 0, 0
    low, dash, high = text.partition("-")
    if not low.isdigit() or (dash and not high.isdigit()):
        raise InvalidArgument(f"invalid hostPort: {text}")
    lo, hi = int(low), int(high) if dash else int(low)
    if not 0 <= lo <= 65535 or not 0 <= hi <= 65535 or hi < lo:
        raise InvalidArgument(f"invalid hostPort: {text}")
    if lo == 0 and dash:
        raise InvalidArgument(f"invalid hostPort: {text}")
    return lo, hi


def requests_from(port_bindings: dict[str, Any] | None, exposed: dict[str, Any] | None,
                  publish_all: bool) -> list[PortRequest]:
    out: list[PortRequest] = []
    bindings = port_bindings or {}
    if not isinstance(bindings, dict):
        raise InvalidArgument("PortBindings must be an object")
    for key, entries in bindings.items():
        port, proto = parse_port_key(key)
        for entry in entries or [{}]:
            if not isinstance(entry, dict):
                raise InvalidArgument(f"invalid port binding for {key}")
            host_ip = str(entry.get("HostIp") or "")
            if host_ip:
                try:
                    addr = ipaddress.ip_address(host_ip)
                except ValueError:
                    raise InvalidArgument(f"invalid IP address: {host_ip}") from None
                if addr.version == 6:
                    continue  # IPv4 only: IPv6 bindings are skipped, as Docker does without IPv6
            lo, hi = _parse_host_port(str(entry.get("HostPort") or ""))
            out.append(PortRequest(port, proto, "" if host_ip == "0.0.0.0" else host_ip, lo, hi))
    if publish_all:
        for key in exposed or {}:
            port, proto = parse_port_key(key)
            if not any(r.container_port == port and r.proto == proto for r in out):
                out.append(PortRequest(port, proto, "", 0, 0))
    return out


def ephemeral_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


@dataclass
class HeldPort:
    request: PortRequest
    host_port: int
    sock: socket.socket


def _bind(proto: str, host_ip: str, port: int) -> socket.socket | None:
    kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
    sock = socket.socket(socket.AF_INET, kind | socket.SOCK_CLOEXEC)
    try:
        sock.bind((host_ip or "0.0.0.0", port))
    except OSError:
        sock.close()
        return None
    return sock


class PortAllocator:
    def __init__(self) -> None:
        lo, hi = ephemeral_range()
        self.cursor = lo
        self.low, self.high = lo, hi

    def allocate(self, requests: list[PortRequest]) -> list[HeldPort]:
        """Bind a host port for each request; all or nothing."""
        held: list[HeldPort] = []
        try:
            for req in requests:
                held.append(self._one(req, {(h.request.proto, h.host_port) for h in held}))
        except BaseException:
            for h in held:
                h.sock.close()
            raise
        return held

    def _one(self, req: PortRequest, taken: set[tuple[str, int]]) -> HeldPort:
        shown_ip = req.host_ip or "0.0.0.0"
        if req.low and req.low == req.high:
            sock = None if (req.proto, req.low) in taken else _bind(req.proto, req.host_ip, req.low)
            if sock is None:
                raise Conflict(f"driver failed programming external connectivity: Bind for {shown_ip}:{req.low} failed: port is already allocated")
            return HeldPort(req, req.low, sock)
        if req.low:
            candidates = range(req.low, req.high + 1)
        else:
            span = self.high - self.low + 1
            candidates = (self.low + (self.cursor - self.low + i) % span for i in range(span))  # type: ignore[assignment]
        for port in candidates:
            if (req.proto, port) in taken:
                continue
            sock = _bind(req.proto, req.host_ip, port)
            if sock is not None:
                if not req.low:
                    self.cursor = port + 1 if port < self.high else self.low
                return HeldPort(req, port, sock)
        where = f"{req.low}-{req.high}" if req.low else "the ephemeral range"
        raise Conflict(f"driver failed programming external connectivity: Bind for {shown_ip}:{where} failed: port is already allocated")
