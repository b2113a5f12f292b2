"""The containers table: rows made from the engine's container list, searched, filtered and sorted.

Pure functions of `GET /containers/json?all=1` output. `rows()` turns summaries
into `ContainerRow`s (published ports as links a browser can open, health from
the status text, as `docker ps` shows it); `select()` applies the page's query
(search, state, health, sort).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

STATES = ("running", "paused", "restarting", "created", "exited", "removing", "dead")
HEALTHS = ("healthy", "unhealthy", "starting", "none")
SORT_KEYS = ("name", "state", "health", "image", "created")
WILDCARDS = ("", "0.0.0.0", "::")
HEALTH_SUFFIX_RE = re.compile(r"\s*\((?:healthy|unhealthy|health: starting|Paused)\)")


@dataclass(frozen=True)
class PortLink:
    """One published (or only exposed) port; `url` is empty when a browser cannot open it."""

    private: int
    proto: str
    public: int = 0
    host_ip: str = ""
    url: str = ""

    @property
    def label(self) -> str:
        if not self.public:
            return f"{self.private}/{self.proto}"
        where = f"{self.host_ip}:" if self.host_ip not in WILDCARDS else ""
        return f"{where}{self.public}→{self.private}/{self.proto}"


@dataclass(frozen=True)
class ContainerRow:
    id: str
    name: str
    image: str
    state: str
    status: str
    health: str  # healthy | unhealthy | starting | none
    created: datetime
    ports: tuple[PortLink, ...] = field(default_factory=tuple)
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def uptime(self) -> str:
        """The status text without the health part the Health column shows ("Up 5 minutes")."""
        return HEALTH_SUFFIX_RE.sub("", self.status).strip()


@dataclass(frozen=True)
class Query:
    """What the list page asks for: ?q=&state=&health=&sort=&dir=."""

    q: str = ""
    state: str = ""
    health: str = ""
    sort: str = "name"
    desc: bool = False

    @classmethod
    def from_params(cls, params: Any) -> Query:
        """From request.GET (or any mapping); unknown values fall back to the defaults."""
        state = params.get("state", "")
        health = params.get("health", "")
        sort = params.get("sort", "name")
        return cls(
            q=(params.get("q") or "").strip()[:200],
            state=state if state in STATES else "",
            health=health if health in HEALTHS else "",
            sort=sort if sort in SORT_KEYS else "name",
            desc=params.get("dir") == "desc",
        )


def health_of(status: str) -> str:
    """The health shown in `docker ps`'s status text: "Up 2 minutes (healthy)" → "healthy"."""
    if "(health: starting)" in status:
        return "starting"
    if "(unhealthy)" in status:
        return "unhealthy"
    if "(healthy)" in status:
        return "healthy"
    return "none"


def link_host(endpoint_url: str, host_ip: str) -> str:
    """Where a browser reaches a port published on `host_ip`, or "" when it cannot.

    Wildcard bindings are reached on the engine's host: 127.0.0.1 for a unix
    socket (this host), the tcp endpoint's host otherwise. A loopback binding on a
    remote engine is out of reach.
    """
    remote = urlsplit(endpoint_url).hostname if endpoint_url.startswith("tcp://") else None
    if host_ip in WILDCARDS:
        host = remote or "127.0.0.1"
    else:
        try:
            address = ipaddress.ip_address(host_ip)
        except ValueError:
            return ""
        if address.is_loopback and remote and not ipaddress.ip_address(_resolvable(remote)).is_loopback:
            return ""
        host = host_ip
    return f"[{host}]" if ":" in host else host


def _resolvable(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return "0.0.0.0"  # a name: assume it is not loopback


def port_links(endpoint_url: str, ports: list[dict[str, Any]]) -> tuple[PortLink, ...]:
    """Ports of a summary, one per (public, private, proto) (IPv4 and IPv6 bindings fold), tcp ones linked."""
    seen: dict[tuple[int, int, str], PortLink] = {}
    for p in ports or []:
        proto, public, host_ip = p.get("Type", "tcp"), int(p.get("PublicPort") or 0), p.get("IP", "") or ""
        key = (public, int(p.get("PrivatePort") or 0), proto)
        if key in seen and seen[key].url:
            continue
        url = ""
        if public and proto == "tcp":
            host = link_host(endpoint_url, host_ip)
            url = f"http://{host}:{public}/" if host else ""
        seen[key] = PortLink(key[1], proto, public, host_ip, url)
    return tuple(sorted(seen.values(), key=lambda link: (link.public == 0, link.public, link.private)))


def row(endpoint_url: str, summary: dict[str, Any]) -> ContainerRow:
    names = summary.get("Names") or []
    status = summary.get("Status", "")
    return ContainerRow(
        id=summary["Id"],
        name=(names[0] if names else summary["Id"][:12]).lstrip("/"),
        image=summary.get("Image", ""),
        state=summary.get("State", ""),
        status=status,
        health=health_of(status),
        created=datetime.fromtimestamp(int(summary.get("Created") or 0), tz=UTC),
        ports=port_links(endpoint_url, summary.get("Ports") or []),
        labels=summary.get("Labels") or {},
    )


def rows(endpoint_url: str, summaries: list[dict[str, Any]]) -> list[ContainerRow]:
    return [row(endpoint_url, s) for s in summaries]


def _matches(r: ContainerRow, q: str) -> bool:
    q = q.lower()
    return (q in r.name.lower() or q in r.image.lower() or r.id.startswith(q)
            or any(q in f"{k}={v}".lower() for k, v in r.labels.items()))


SORTERS = {
    "name": lambda r: r.name.lower(),
    "state": lambda r: (STATES.index(r.state) if r.state in STATES else len(STATES), r.name.lower()),
    "health": lambda r: (HEALTHS.index(r.health), r.name.lower()),
    "image": lambda r: (r.image.lower(), r.name.lower()),
    "created": lambda r: (r.created, r.name.lower()),
}


def select(all_rows: list[ContainerRow], query: Query) -> list[ContainerRow]:
    """The rows the query asks for, in its order."""
    found = [r for r in all_rows
             if (not query.q or _matches(r, query.q))
             and (not query.state or r.state == query.state)
             and (not query.health or r.health == query.health)]
    return sorted(found, key=SORTERS[query.sort], reverse=query.desc)
