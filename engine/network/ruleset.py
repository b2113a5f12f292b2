"""The engine's nftables ruleset, computed from its networks and published ports (pure).

One table per engine instance, replaced as a whole in one `nft -f` transaction
each time something changes, so the kernel never sees half a change:

  prerouting/output  DNAT of published ports (traffic to a local address)
  postrouting        masquerade: outbound from non-internal networks, traffic from
                     the host's loopback into a bridge, and hairpin traffic between
                     containers through a published port
  forward            internal networks reach nothing beyond their bridge

and, beside it, an `ip6` table of the same name with only the forward chain for
IPv6-enabled networks (Docker 20.10 does no NAT66, so there is nothing to NAT).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class BridgeNet:
    bridge: str
    subnet: str
    internal: bool
    subnet6: str = ""  # IPv6-enabled networks only


@dataclass(frozen=True)
class Published:
    proto: str  # tcp / udp / sctp
    host_ip: str  # "" or "0.0.0.0" means every local address
    host_port: int
    container_ip: str
    container_port: int


def _q(name: str) -> str:
    return '"' + name.replace('"', "") + '"'


def build(table: str, bridges: list[BridgeNet], published: list[Published]) -> str:
    lines = [f"table ip {table} {{"]
    lines += [
        "  chain prerouting {",
        "    type nat hook prerouting priority dstnat; policy accept;",
        "    fib daddr type local jump published",
        "  }",
        "  chain output {",
        "    type nat hook output priority -100; policy accept;",
        "    fib daddr type local jump published",
        "  }",
        "  chain published {",
    ]
    for p in sorted(published, key=lambda p: (p.host_port, p.proto, p.host_ip)):
        match = "" if p.host_ip in ("", "0.0.0.0") else f"ip daddr {p.host_ip} "
        lines.append(f"    {match}{p.proto} dport {p.host_port} dnat to {p.container_ip}:{p.container_port}")
    lines += [
        "  }",
        "  chain postrouting {",
        "    type nat hook postrouting priority srcnat; policy accept;",
    ]
    for b in bridges:
        lines.append(f"    ip saddr 127.0.0.0/8 oifname {_q(b.bridge)} masquerade")
        lines.append(f"    ct status dnat ip saddr {b.subnet} oifname {_q(b.bridge)} masquerade")
        if not b.internal:
            lines.append(f"    ip saddr {b.subnet} oifname != {_q(b.bridge)} masquerade")
    lines += ["  }", *_forward_chain(bridges), "}"]
    return "\n".join(lines) + "\n"


def _forward_chain(bridges: list[BridgeNet]) -> list[str]:
    lines = [
        "  chain forward {",
        "    type filter hook forward priority filter; policy accept;",
    ]
    for b in bridges:
        if b.internal:
            lines.append(f"    iifname {_q(b.bridge)} oifname != {_q(b.bridge)} drop")
            lines.append(f"    oifname {_q(b.bridge)} iifname != {_q(b.bridge)} drop")
    for b in bridges:  # networks are isolated from each other, as Docker's isolation chains do
        others = [o.bridge for o in bridges if o.bridge != b.bridge]
        if others:
            lines.append(f"    iifname {_q(b.bridge)} oifname {{ {', '.join(_q(o) for o in others)} }} drop")
    return [*lines, "  }"]


def build6(table: str, bridges: list[BridgeNet]) -> str:
    """The `ip6` table: the same isolation as IPv4's forward chain, between IPv6-enabled networks."""
    with_ipv6 = [b for b in bridges if b.subnet6]
    return "\n".join([f"table ip6 {table} {{", *_forward_chain(with_ipv6), "}"]) + "\n"


def replace_table(table: str, body: str, family: str = "ip") -> str:
    """A transaction that swaps the whole table: create-if-missing, delete, create anew."""
    return f"table {family} {table} {{}}\ndelete table {family} {table}\n{body}"


def delete_table(table: str) -> str:
    """Both of the engine's tables (ip and ip6)."""
    return "".join(f"table {family} {table} {{}}\ndelete table {family} {table}\n" for family in ("ip", "ip6"))


def docker_user_rules(comment: str, bridges: list[str], stale_handles: list[int]) -> str:
    """Accept our bridges' traffic in Docker's DOCKER-USER chain (Docker's FORWARD policy is DROP)."""
    out = [f"delete rule ip filter DOCKER-USER handle {h}" for h in stale_handles]
    for name in bridges:
        out.append(f"insert rule ip filter DOCKER-USER iifname {_q(name)} counter accept comment {_q(comment)}")
        out.append(f"insert rule ip filter DOCKER-USER oifname {_q(name)} counter accept comment {_q(comment)}")
    return "\n".join(out) + ("\n" if out else "")


def echoed_handles(echo: str, comment: str) -> list[int]:
    """Handles of the DOCKER-USER rules carrying `comment` in `nft --echo --handle` output."""
    pattern = re.compile(r"^insert rule ip filter DOCKER-USER .* comment " + re.escape(_q(comment)) + r" # handle (\d+)$")
    return [int(m.group(1)) for line in echo.splitlines() if (m := pattern.match(line.strip()))]
