"""The per-container /etc/hosts, /etc/hostname and /etc/resolv.conf, as Docker writes them (pure)."""

from __future__ import annotations

import ipaddress

from engine.errors import InvalidArgument

HOSTS_HEADER = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)
DEFAULT_NAMESERVERS = ("8.8.8.8", "8.8.4.4")


def parse_extra_host(entry: str, gateway: str | None = None) -> tuple[str, str]:
    """`name:ip` (or `name=ip`) → (name, ip). `host-gateway` becomes the network's gateway."""
    sep = "=" if "=" in entry else ":"
    name, found, ip = entry.partition(sep)
    if not found or not name or not ip:
        raise InvalidArgument(f"invalid IP address in add-host: {entry!r}")
    if ip == "host-gateway":
        if not gateway:
            raise InvalidArgument("unable to derive the IP value for host-gateway")
        ip = gateway
    ip = ip.strip("[]")
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise InvalidArgument(f"invalid IP address in add-host: {ip!r}") from None
    return name, ip


def hosts_file(hostname: str, domainname: str, addresses: list[str], extra_hosts: list[tuple[str, str]],
               aliases: list[str] | None = None) -> str:
    out = [HOSTS_HEADER]
    for name, ip in extra_hosts:
        out.append(f"{ip}\t{name}\n")
    names = hostname if not domainname else f"{hostname}.{domainname} {hostname}"
    if aliases:
        names = " ".join(dict.fromkeys([*names.split(), *aliases]))
    for ip in addresses:
        out.append(f"{ip}\t{names}\n")
    return "".join(out)


def hostname_file(hostname: str) -> str:
    return hostname + "\n"


def resolv_conf(host_resolv: str, dns: list[str], search: list[str], options: list[str],
                embedded_dns: str | None = None) -> str:
    """Docker's rules: the host's file without loopback resolvers, overridden by --dns*."""
    nameservers: list[str] = []
    host_search: list[str] = []
    host_options: list[str] = []
    other: list[str] = []
    for line in host_resolv.splitlines():
        words = line.split()
        if not words or words[0].startswith(("#", ";")):
            continue
        if words[0] == "nameserver" and len(words) > 1:
            nameservers.append(words[1])
        elif words[0] in ("search", "domain"):
            host_search = words[1:]
        elif words[0] == "options":
            host_options.extend(words[1:])
        else:
            other.append(line)
    if embedded_dns:
        servers = [embedded_dns]
    elif dns:
        servers = list(dns)
    else:
        servers = [ns for ns in nameservers if not _is_loopback(ns)] or list(DEFAULT_NAMESERVERS)
    out = [f"nameserver {ns}" for ns in servers]
    final_search = search if search else host_search
    if final_search and final_search != ["."]:
        out.append("search " + " ".join(final_search))
    final_options = options if options else host_options
    if embedded_dns:
        final_options = ["ndots:0", *[o for o in final_options if not o.startswith("ndots:")]] if not options else final_options
    if final_options:
        out.append("options " + " ".join(final_options))
    return "\n".join(out) + "\n"


def _is_loopback(ns: str) -> bool:
    try:
        return ipaddress.ip_address(ns.split("%")[0]).is_loopback
    except ValueError:
        return False
