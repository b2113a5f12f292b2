"""Engine configuration: command-line flags, checked strictly at start-up.

Every path, name and address the engine touches on the host is a setting, so
tests can run several engines side by side without touching each other.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import shutil
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_ROOT = "/var/lib/berth"
DEFAULT_EXEC_ROOT = "/run/berth"
DEFAULT_SOCKET = "unix:///run/berth/engine.sock"


class ConfigError(Exception):
    """A flag has a value the engine cannot start with."""


@dataclass(frozen=True)
class Listener:
    scheme: str  # "unix" or "tcp"
    address: str  # socket path, or host
    port: int = 0


@dataclass(frozen=True)
class ClusterConfig:
    """Docker's pre-swarm cluster flags: where the shared store is, and this host's tunnel end."""

    store: str  # as given: etcd://host:port[,host:port]
    endpoints: tuple[str, ...]  # host:port of each etcd member
    advertise: str  # an IPv4 address of this host that the others reach
    advertise_text: str  # as given, e.g. 10.0.0.5:2376
    vxlan_port: int = 4789
    overlay_pool: str = "10.0.0.0/8"


@dataclass(frozen=True)
class EngineConfig:
    root: str = DEFAULT_ROOT
    exec_root: str = DEFAULT_EXEC_ROOT
    hosts: tuple[Listener, ...] = (Listener("unix", "/run/berth/engine.sock"),)
    cgroup_parent: str = "berth"
    bridge_prefix: str = "berth"
    address_pool: str = "172.29.0.0/16"
    nft_table: str = "berth"
    socket_group: str = ""
    tls: bool = False
    tls_verify: bool = False
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    runc: str = "runc"
    conmon: str = "conmon"
    init_binary: str = ""
    log_level: str = "info"
    log_format: str = "text"  # "text" or "json" (JSON lines)
    otel: bool = False  # trace with OpenTelemetry even without an OTEL_EXPORTER_OTLP_* endpoint
    pidfile: str = ""
    debug: bool = False
    insecure_registries: tuple[str, ...] = ()
    certs_dirs: tuple[str, ...] = ("/etc/berth/certs.d", "/etc/docker/certs.d")
    cluster: ClusterConfig | None = None  # overlay networks across hosts, with --cluster-store

    @property
    def runc_root(self) -> str:
        return os.path.join(self.exec_root, "runc")


def parse_host(text: str) -> Listener:
    parts = urlsplit(text)
    if parts.scheme == "unix":
        path = parts.path or (parts.netloc + parts.path)
        if not path.startswith("/"):
            raise ConfigError(f"unix socket path must be absolute: {text}")
        return Listener("unix", path)
    if parts.scheme == "tcp":
        host = parts.hostname or "127.0.0.1"
        port = parts.port or 2375
        return Listener("tcp", host, port)
    if text.startswith("/"):
        return Listener("unix", text)
    raise ConfigError(f"invalid host {text!r}: use unix:///path or tcp://host:port")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m engine", description="Berth container engine (Docker Engine API)")
    p.add_argument("--root", default=DEFAULT_ROOT, help="state directory (default %(default)s)")
    p.add_argument("--exec-root", default=DEFAULT_EXEC_ROOT, help="runtime directory (default %(default)s)")
    p.add_argument("-H", "--host", action="append", dest="hosts", help="listen on unix:///path or tcp://host:port (repeatable)")
    p.add_argument("--group", default="", help="group that owns the unix socket")
    p.add_argument("--cgroup-parent", default="berth")
    p.add_argument("--bridge-prefix", default="berth", help="name prefix of the bridges and veths the engine makes")
    p.add_argument("--pool", default="172.29.0.0/16", help="address pool for networks")
    p.add_argument("--nft-table", default="berth")
    p.add_argument("--tls", action="store_true")
    p.add_argument("--tlsverify", action="store_true")
    p.add_argument("--tlscacert", default="")
    p.add_argument("--tlscert", default="")
    p.add_argument("--tlskey", default="")
    p.add_argument("--runc", default="")
    p.add_argument("--conmon", default="")
    p.add_argument("--init-path", default="")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    p.add_argument("--log-format", default="text", choices=("text", "json"),
                   help="engine log lines as text or as JSON lines with request ids (default %(default)s)")
    p.add_argument("--otel", action="store_true",
                   help="export OpenTelemetry traces over OTLP/HTTP (also on when OTEL_EXPORTER_OTLP_ENDPOINT is set)")
    p.add_argument("--pidfile", default="")
    p.add_argument("--insecure-registry", action="append", dest="insecure_registries", default=[],
                   help="registry host[:port] or CIDR to reach without TLS verification (repeatable)")
    p.add_argument("--certs-dir", action="append", dest="certs_dirs", default=[],
                   help="directory of per-registry TLS files, <dir>/<host:port>/ca.crt (default /etc/berth/certs.d and /etc/docker/certs.d)")
    p.add_argument("--cluster-store", default="", help="etcd://HOST:PORT[,HOST:PORT]: the store of overlay networks")
    p.add_argument("--cluster-advertise", default="", help="IP[:PORT] of this host that the other hosts reach")
    p.add_argument("--vxlan-port", type=int, default=4789, help="UDP port of the overlay tunnels (default %(default)s)")
    p.add_argument("--overlay-pool", default="10.0.0.0/8", help="address pool of overlay networks (default %(default)s)")
    return p


def parse_cluster(store: str, advertise: str, vxlan_port: int, overlay_pool: str) -> ClusterConfig | None:
    if not store:
        if advertise:
            raise ConfigError("--cluster-advertise needs --cluster-store")
        return None
    parts = urlsplit(store)
    if parts.scheme != "etcd" or not parts.netloc or parts.path not in ("", "/"):
        raise ConfigError(f"invalid --cluster-store {store!r}: use etcd://HOST:PORT[,HOST:PORT]")
    endpoints = []
    for member in parts.netloc.split(","):
        host, _, port = member.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"invalid --cluster-store member {member!r}: use HOST:PORT")
        endpoints.append(member)
    if not advertise:
        raise ConfigError("--cluster-store needs --cluster-advertise IP: the address other hosts reach this one on")
    address = advertise.rsplit(":", 1)[0] if advertise.count(":") == 1 else advertise
    try:
        ipaddress.IPv4Address(address)
    except ValueError:
        raise ConfigError(f"invalid --cluster-advertise {advertise!r}: use an IPv4 address of this host") from None
    if not 0 < vxlan_port < 65536:
        raise ConfigError(f"invalid --vxlan-port {vxlan_port}")
    try:
        ipaddress.IPv4Network(overlay_pool)
    except ValueError:
        raise ConfigError(f"invalid --overlay-pool {overlay_pool!r}") from None
    return ClusterConfig(store, tuple(endpoints), address, advertise, vxlan_port, overlay_pool)


def from_args(ns: argparse.Namespace) -> EngineConfig:
    hosts = tuple(parse_host(h) for h in (ns.hosts or [DEFAULT_SOCKET]))
    tls = ns.tls or ns.tlsverify
    for h in hosts:
        if h.scheme == "tcp" and not tls and not _is_loopback(h.address):
            raise ConfigError(f"refusing plain TCP on {h.address}:{h.port}: use --tlsverify, or bind to 127.0.0.1")
    if tls and not (ns.tlscert and ns.tlskey):
        raise ConfigError("--tls/--tlsverify need --tlscert and --tlskey")
    if ns.tlsverify and not ns.tlscacert:
        raise ConfigError("--tlsverify needs --tlscacert")
    for path in (ns.tlscert, ns.tlskey, ns.tlscacert):
        if path and not os.path.isfile(path):
            raise ConfigError(f"no such file: {path}")
    runc = ns.runc or shutil.which("runc") or ""
    conmon = ns.conmon or shutil.which("conmon") or ""
    if not runc:
        raise ConfigError("runc not found: install Debian's runc package")
    if not conmon:
        raise ConfigError("conmon not found: install Debian's conmon package")
    init = ns.init_path or shutil.which("tini-static") or shutil.which("tini") or ""
    try:
        ipaddress.IPv4Network(ns.pool)
    except ValueError:
        raise ConfigError(f"invalid --pool {ns.pool!r}: an IPv4 network is needed") from None
    if not ns.bridge_prefix.isalnum() or len(ns.bridge_prefix) > 8:
        raise ConfigError("--bridge-prefix must be 1-8 letters or digits")
    return EngineConfig(
        root=os.path.abspath(ns.root), exec_root=os.path.abspath(ns.exec_root), hosts=hosts,
        cgroup_parent=ns.cgroup_parent.strip("/") or "berth", bridge_prefix=ns.bridge_prefix,
        address_pool=ns.pool, nft_table=ns.nft_table, socket_group=ns.group, tls=tls, tls_verify=ns.tlsverify,
        tls_ca=ns.tlscacert, tls_cert=ns.tlscert, tls_key=ns.tlskey, runc=runc, conmon=conmon, init_binary=init,
        log_level=ns.log_level, log_format=ns.log_format, otel=ns.otel, pidfile=ns.pidfile, debug=ns.log_level == "debug",
        insecure_registries=tuple(ns.insecure_registries),
        certs_dirs=tuple(ns.certs_dirs) or ("/etc/berth/certs.d", "/etc/docker/certs.d"),
        cluster=parse_cluster(ns.cluster_store, ns.cluster_advertise, ns.vxlan_port, ns.overlay_pool),
    )
