"""The few DNS message shapes the embedded server needs (pure): parse a query, build
an answer of A, AAAA or PTR records, or an empty/NXDOMAIN/SERVFAIL/REFUSED reply.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

TYPE_A, TYPE_PTR, TYPE_AAAA = 1, 12, 28
CLASS_IN = 1
NOERROR, SERVFAIL, NXDOMAIN, REFUSED = 0, 2, 3, 5
TTL = 600


class DnsFormatError(Exception):
    """Not a DNS query we can read."""


@dataclass(frozen=True)
class Query:
    id: int
    flags: int
    name: str  # lower case, no trailing dot
    qtype: int
    qclass: int
    question: bytes  # the raw question section, echoed in replies

    @property
    def recursion_desired(self) -> bool:
        return bool(self.flags & 0x0100)


def _read_name(data: bytes, pos: int) -> tuple[str, int]:
    labels = []
    hops = 0
    end = None
    while True:
        if pos >= len(data):
            raise DnsFormatError("truncated name")
        length = data[pos]
        if length & 0xC0 == 0xC0:
            if pos + 1 >= len(data):
                raise DnsFormatError("truncated pointer")
            if end is None:
                end = pos + 2
            pos = ((length & 0x3F) << 8) | data[pos + 1]
            hops += 1
            if hops > 16:
                raise DnsFormatError("pointer loop")
            continue
        pos += 1
        if length == 0:
            break
        labels.append(data[pos:pos + length].decode("ascii", "replace"))
        pos += length
    return ".".join(labels), end if end is not None else pos


def parse_query(data: bytes) -> Query:
    if len(data) < 12:
        raise DnsFormatError("short message")
    qid, flags, qdcount = struct.unpack(">HHH", data[:6])
    if flags & 0x8000 or qdcount != 1:
        raise DnsFormatError("not a single-question query")
    name, pos = _read_name(data, 12)
    if pos + 4 > len(data):
        raise DnsFormatError("truncated question")
    qtype, qclass = struct.unpack(">HH", data[pos:pos + 4])
    return Query(qid, flags, name.lower().rstrip("."), qtype, qclass, data[12:pos + 4])


def _encode_name(name: str) -> bytes:
    out = bytearray()
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii", "replace")[:63]
        out.append(len(raw))
        out += raw
    out.append(0)
    return bytes(out)


def reply(q: Query, rcode: int = NOERROR, a_records: list[str] | None = None, ptr: str | None = None,
          authoritative: bool = True, aaaa_records: list[str] | None = None) -> bytes:
    answers = bytearray()
    count = 0
    for ip in a_records or []:
        answers += b"\xc0\x0c" + struct.pack(">HHIH", TYPE_A, CLASS_IN, TTL, 4) + ipaddress.IPv4Address(ip).packed
        count += 1
    for ip in aaaa_records or []:
        answers += b"\xc0\x0c" + struct.pack(">HHIH", TYPE_AAAA, CLASS_IN, TTL, 16) + ipaddress.IPv6Address(ip).packed
        count += 1
    if ptr:
        rdata = _encode_name(ptr)
        answers += b"\xc0\x0c" + struct.pack(">HHIH", TYPE_PTR, CLASS_IN, TTL, len(rdata)) + rdata
        count += 1
    flags = 0x8000 | (q.flags & 0x0100) | 0x0080 | rcode
    if authoritative:
        flags |= 0x0400
    header = struct.pack(">HHHHHH", q.id, flags, 1, count, 0, 0)
    return header + q.question + bytes(answers)


def ptr_to_ip(name: str) -> str | None:
    """`2.0.18.172.in-addr.arpa` → `172.18.0.2`; `2.0.0.0.(…).8.b.d.0.1.0.0.2.ip6.arpa` → `2001:db8::2`."""
    if name.endswith(".ip6.arpa"):
        nibbles = name[: -len(".ip6.arpa")].split(".")
        if len(nibbles) != 32 or not all(len(n) == 1 and n in "0123456789abcdef" for n in nibbles):
            return None
        return str(ipaddress.IPv6Address(int("".join(reversed(nibbles)), 16)))
    suffix = ".in-addr.arpa"
    if not name.endswith(suffix):
        return None
    parts = name[: -len(suffix)].split(".")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        return None
    return ".".join(reversed(parts))
