"""Writes a container's /etc/hostname, /etc/hosts and /etc/resolv.conf files.

They are bind-mounted into the container, so they are rewritten in place (same
inode): a network connect updates what the running container sees.
"""

from __future__ import annotations

import os

from engine.containers import etcfiles
from engine.containers.model import Container
from engine.containers.store import ContainerPaths

EMBEDDED_DNS = "127.0.0.11"


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def write_etc_files(paths: ContainerPaths, c: Container, addresses: list[str] | None = None,
                    embedded_dns: bool = False, link_hosts: list[tuple[str, str]] | None = None) -> None:
    """`link_hosts`: (names, address) lines for legacy links, before the --add-host ones (Docker's order)."""
    os.makedirs(paths.dir, exist_ok=True)
    hc = c.host_config
    extra = list(link_hosts or []) + [etcfiles.parse_extra_host(e) for e in hc.get("ExtraHosts") or []]
    dns, search, options = hc.get("Dns") or [], hc.get("DnsSearch") or [], hc.get("DnsOptions") or []
    if (hc.get("NetworkMode") or "") == "host":
        hosts = _read_text("/etc/hosts") + "".join(f"{ip}\t{n}\n" for n, ip in extra)
        resolv = _read_text("/etc/resolv.conf")
        if dns or search or options:
            resolv = etcfiles.resolv_conf(resolv, dns, search, options)
    else:
        hosts = etcfiles.hosts_file(c.config["Hostname"], c.config.get("Domainname") or "", addresses or [], extra)
        resolv = etcfiles.resolv_conf(_read_text("/etc/resolv.conf"), [] if embedded_dns else dns, search, options,
                                      EMBEDDED_DNS if embedded_dns else None)
    for path, text in ((paths.hostname, etcfiles.hostname_file(c.config["Hostname"])), (paths.hosts, hosts),
                       (paths.resolv_conf, resolv)):
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(path, 0o644)
