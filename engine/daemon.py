"""The engine process: wiring, start-up recovery, serving, shutdown.

Start-up order: state directories, the image and layer stores, the container
records (each container is re-attached to its conmon if it still runs, or
recorded as exited with conmon's exit code), then the API listeners. Shutdown
closes the listeners and leaves containers running, as Docker's live-restore.
"""

from __future__ import annotations

import asyncio
import fcntl
import grp
import logging
import os
import platform
import secrets
import signal
import socket
import ssl
import subprocess
import threading
from typing import Any

from engine import __version__
from engine.api import build as build_api
from engine.api import container_files as container_files_api
from engine.api import containers as containers_api
from engine.api import images as images_api
from engine.api import networks as networks_api
from engine.api import observability as observability_api
from engine.api import registry as registry_api
from engine.api import swarm as swarm_api
from engine.api import system as system_api
from engine.api import volumes as volumes_api
from engine.api.http import Request
from engine.api.observability import RequestObserver
from engine.api.router import (
    API_VERSION,
    MIN_API_VERSION,
    Router,
    common_headers,
    version_string,
)
from engine.api.server import HttpServer
from engine.api.services import Services
from engine.config import ConfigError, EngineConfig
from engine.containers import cgroups, mountplan
from engine.containers.execs import ExecService
from engine.containers.files import ContainerFiles
from engine.containers.lifecycle import Lifecycle, LifecycleSettings
from engine.containers.model import PAUSED, RUNNING, STATUSES
from engine.containers.registry import Registry
from engine.containers.runtime import Runtime, RuntimeConfig
from engine.containers.service import ContainerService
from engine.containers.store import ContainerStore
from engine.events import EventBus
from engine.images.config import host_architecture
from engine.images.registry.client import RegistrySettings
from engine.images.registry.pull import Puller
from engine.images.service import ImageService
from engine.images.store import ImageStore
from engine.network.overlay import OverlayDriver, OverlaySettings
from engine.network.sandboxes import Sandboxes
from engine.network.service import NetworkService, NetworkSettings
from engine.observe import logging as observe_logging
from engine.observe import metrics, tracing
from engine.observe.readiness import Readiness
from engine.snapshots.layers import LayerStore
from engine.util.fs import atomic_write_bytes
from engine.util.timefmt import rfc3339_now
from engine.volumes.service import VolumeService

log = logging.getLogger("engine")


def _tool_version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    for word in out.split():
        if word[:1].isdigit():
            return word.split("+")[0]
    return ""


def _os_release() -> tuple[str, str]:
    pretty, version = "Linux", ""
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.strip().partition("=")
                value = value.strip('"')
                if key == "PRETTY_NAME":
                    pretty = value
                elif key == "VERSION_ID":
                    version = value
    except FileNotFoundError:
        pass
    return pretty, version


class Daemon:
    def __init__(self, cfg: EngineConfig) -> None:
        self.cfg = cfg
        for d in (cfg.root, cfg.exec_root):
            os.makedirs(d, mode=0o711, exist_ok=True)
        self._lock_root()
        self.engine_id = self._engine_id()
        self.events = EventBus()
        self.layers = LayerStore(os.path.join(cfg.root, "image"))
        self.layers.clean_tmp()
        self.image_store = ImageStore(cfg.root, self.layers)
        self.images = ImageService(self.image_store, self.events)
        self.host = cgroups.detect_support()
        self.runtime = Runtime(RuntimeConfig(cfg.runc, cfg.conmon, cfg.runc_root))
        self.registry = Registry(ContainerStore(cfg.root))
        self.networks = NetworkService(network_settings(cfg), self.events)
        self.sandboxes = Sandboxes(self.networks)
        self.overlay = overlay_driver(cfg, self.engine_id, self.networks)
        self.networks.overlay = self.sandboxes.overlay = self.overlay
        self.volumes = VolumeService(cfg.root, self.events)
        self.volumes.in_use = lambda: mountplan.in_use(self.registry.all())
        self.lifecycle = Lifecycle(self.registry, self.runtime, self.layers, self.events,
                                   LifecycleSettings(cfg.cgroup_parent, self.host, cfg.init_binary or None),
                                   self.sandboxes, self.volumes)
        self.containers = ContainerService(self.registry, self.lifecycle, self.images)
        self.images.users = self.containers
        self.execs = ExecService(self.lifecycle)
        self.router = Router()
        self.pull_handler: Any = None  # set by the registry routes
        services = Services(self.events, self.images, self.containers, self.execs, self.networks, self.volumes, self)
        system_api.register(self.router, services)
        images_api.register(self.router, services)
        containers_api.register(self.router, services)
        networks_api.register(self.router, services)
        volumes_api.register(self.router, services)
        registry_settings = RegistrySettings(certs_dirs=tuple(cfg.certs_dirs), insecure=tuple(cfg.insecure_registries))
        puller = Puller(self.images.store, registry_settings, os.path.join(self.images.store.layers.tmp_dir, "..", "blobs"))
        build_api.register(self.router, services, puller)
        swarm_api.register(self.router, services)
        container_files_api.register(self.router, services, ContainerFiles(self.containers, __version__))
        registry_api.register(self.router, services, registry_settings, puller)
        self.readiness = Readiness(cfg.nft_table, lambda: [b.bridge for b in self.networks.bridges()])
        observability_api.register(self.router, services, self.readiness)
        observer = RequestObserver(self.router.dispatch)
        self.server = HttpServer(observer.dispatch, common_headers(f"Berth/{__version__} (linux)"), observer.scope)
        self.collector = metrics.EngineCollector(
            __version__, STATUSES, lambda: [c.state.status for c in self.registry.all()],
            lambda: len(self.image_store.images), self.layers.all_chain_ids,
            lambda chain: self.layers.get(chain).size if self.layers.exists(chain) else None)
        metrics.register_collector(self.collector)
        self._versions: dict[str, str] = {}
        self._stopping = asyncio.Event()

    def _engine_id(self) -> str:
        """A stable ID in Docker's shape (12 groups of 4), written once, atomically."""
        path = os.path.join(self.cfg.root, "engine-id")
        try:
            with open(path, encoding="ascii") as f:
                value = f.read().strip()
            if value:
                return value
        except FileNotFoundError:
            pass
        raw = secrets.token_hex(24).upper()
        value = ":".join(raw[i:i + 4] for i in range(0, 48, 4))
        atomic_write_bytes(path, value.encode(), 0o644)
        return value

    def _lock_root(self) -> None:
        """One engine per state directory: a second one with the same --root refuses to start."""
        self._lock_fd = os.open(os.path.join(self.cfg.root, "engine.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"another engine is already using {self.cfg.root}") from None

    # -- start and stop ------------------------------------------------------------------
    async def recover(self) -> None:
        await self.networks.start()
        for c in self.registry.store.load_all():
            self.registry.add(c)
        for c in self.registry.all():
            try:
                await self.lifecycle.recover(c)
            except Exception:  # one bad container must not keep the engine down
                log.exception("recovering container %s", c.short_id)
        self.readiness.state_loaded = True
        running = {c.id for c in self.registry.all() if c.state.status in (RUNNING, PAUSED)}
        self.sandboxes.forget_stale_endpoints(running)
        if self.overlay is not None:
            await self.overlay.start()
        await self.networks.apply_rules()
        self.readiness.networks_up = True
        asyncio.get_running_loop().create_task(self.containers.restart_at_boot())
        self._docker_watch = asyncio.get_running_loop().create_task(self.networks.watch_docker())

    async def serve(self) -> None:
        await self.recover()
        ssl_ctx = self._ssl_context()
        for listener in self.cfg.hosts:
            if listener.scheme == "unix":
                os.makedirs(os.path.dirname(listener.address), exist_ok=True)
                if os.path.exists(listener.address):
                    if _socket_answers(listener.address):
                        raise ConfigError(f"another engine is listening on {listener.address}")
                    os.unlink(listener.address)
                await self.server.listen_unix(listener.address, 0o660)
                if self.cfg.socket_group:
                    try:
                        os.chown(listener.address, 0, grp.getgrnam(self.cfg.socket_group).gr_gid)
                    except KeyError:
                        log.warning("group %s does not exist; socket stays root-only", self.cfg.socket_group)
            else:
                await self.server.listen_tcp(listener.address, listener.port, ssl_ctx)
            log.info("listening on %s %s%s", listener.scheme, listener.address, f":{listener.port}" if listener.port else "")
        if self.cfg.pidfile:
            with open(self.cfg.pidfile, "w", encoding="ascii") as f:  # noqa: ASYNC230 - a pid, once at start
                f.write(str(os.getpid()))
        self.readiness.serving = True
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stopping.set)
        log.info("Berth engine %s ready (root %s)", __version__, self.cfg.root)
        await self._stopping.wait()
        await self.shutdown()

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self.cfg.tls:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cfg.tls_cert, self.cfg.tls_key)
        if self.cfg.tls_verify:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(self.cfg.tls_ca)
        return ctx

    async def shutdown(self) -> None:
        log.info("shutting down; containers keep running")
        self.readiness.stopping = True
        await self.server.close()
        metrics.unregister_collector(self.collector)
        self._docker_watch.cancel()
        self.lifecycle.close()
        self.sandboxes.dns.close()
        if self.overlay is not None:
            await self.overlay.stop()
        for listener in self.cfg.hosts:
            if listener.scheme == "unix" and os.path.exists(listener.address):
                os.unlink(listener.address)
        if self.cfg.pidfile and os.path.exists(self.cfg.pidfile):
            os.unlink(self.cfg.pidfile)

    # -- figures for /version, /info, /system/df ----------------------------------------
    def _component_versions(self) -> dict[str, str]:
        if not self._versions:
            self._versions = {
                "runc": _tool_version([self.cfg.runc, "--version"]),
                "conmon": _tool_version([self.cfg.conmon, "--version"]),
            }
        return self._versions

    def version(self) -> dict[str, Any]:
        versions = self._component_versions()
        details = {
            "ApiVersion": version_string(API_VERSION), "Arch": host_architecture(), "BuildTime": "",
            "Experimental": "false", "GitCommit": "berth", "GoVersion": f"python{platform.python_version()}",
            "KernelVersion": platform.release(), "MinAPIVersion": version_string(MIN_API_VERSION), "Os": "linux",
        }
        return {
            "Platform": {"Name": "Berth Engine"},
            "Components": [
                {"Name": "Engine", "Version": __version__, "Details": details},
                {"Name": "runc", "Version": versions["runc"], "Details": {"GitCommit": ""}},
                {"Name": "conmon", "Version": versions["conmon"], "Details": {"GitCommit": ""}},
            ],
            "Version": __version__,
            "ApiVersion": version_string(API_VERSION),
            "MinAPIVersion": version_string(MIN_API_VERSION),
            "GitCommit": "berth",
            "GoVersion": f"python{platform.python_version()}",
            "Os": "linux",
            "Arch": host_architecture(),
            "KernelVersion": platform.release(),
            "BuildTime": "",
        }

    async def info(self) -> dict[str, Any]:
        all_c = self.registry.all()
        running = sum(1 for c in all_c if c.state.status == RUNNING)
        paused = sum(1 for c in all_c if c.state.status == PAUSED)
        pretty, os_version = _os_release()
        versions = self._component_versions()
        h = self.host
        warnings = []
        if not h.blkio_weight:
            warnings.append("WARNING: No blkio weight support")
            warnings.append("WARNING: No blkio weight_device support")
        if not h.swap:
            warnings.append("WARNING: No swap limit support")
        doc: dict[str, Any] = {
            "ID": self.engine_id,
            "Containers": len(all_c), "ContainersRunning": running, "ContainersPaused": paused,
            "ContainersStopped": len(all_c) - running - paused,
            "Images": len(self.image_store.images),
            "Driver": "overlay2",
            "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"], ["Native Overlay Diff", "true"]],
            "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "macvlan", "null"], "Authorization": None,
                        "Log": ["json-file", "local"]},
            "MemoryLimit": h.memory, "SwapLimit": h.swap, "KernelMemory": False, "KernelMemoryTCP": False,
            "CpuCfsPeriod": h.cpu_cfs, "CpuCfsQuota": h.cpu_cfs, "CPUShares": h.cpu_shares, "CPUSet": h.cpuset,
            "PidsLimit": h.pids, "IPv4Forwarding": _read_flag("/proc/sys/net/ipv4/ip_forward"),
            "BridgeNfIptables": False, "BridgeNfIp6tables": False, "Debug": self.cfg.debug,
            "NFd": len(os.listdir("/proc/self/fd")), "OomKillDisable": h.version == 1,
            "NGoroutines": threading.active_count(), "SystemTime": rfc3339_now(), "LoggingDriver": "json-file",
            "CgroupDriver": "cgroupfs", "CgroupVersion": str(h.version),
            "NEventsListener": len(self.events.subscribers), "KernelVersion": platform.release(),
            "OperatingSystem": pretty, "OSVersion": os_version, "OSType": "linux",
            "Architecture": platform.machine(), "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {"AllowNondistributableArtifactsCIDRs": [], "AllowNondistributableArtifactsHostnames": [],
                               "InsecureRegistryCIDRs": ["127.0.0.0/8"], "IndexConfigs": {}, "Mirrors": []},
            "NCPU": os.cpu_count() or 1, "MemTotal": cgroups.mem_total(), "GenericResources": None,
            "DockerRootDir": self.cfg.root, "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
            "Name": platform.node(), "Labels": [], "ExperimentalBuild": False, "ServerVersion": __version__,
            "Runtimes": {"runc": {"path": self.cfg.runc}}, "DefaultRuntime": "runc",
            "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": False,
                      "Error": "", "RemoteManagers": None},
            "LiveRestoreEnabled": True, "Isolation": "", "InitBinary": self.cfg.init_binary or "",
            "ContainerdCommit": {"ID": "", "Expected": ""},
            "RuncCommit": {"ID": versions["runc"], "Expected": versions["runc"]},
            "InitCommit": {"ID": "", "Expected": ""},
            "SecurityOptions": ["name=seccomp,profile=default"] + (["name=cgroupns"] if h.version == 2 else []),
            "Warnings": warnings,
        }
        if self.overlay is not None:
            doc["Plugins"]["Network"].append("overlay")
            self.overlay.describe(doc)
        return doc

    async def disk_usage(self) -> dict[str, Any]:
        from engine.api.shapes import container_summary, image_summary

        layers_size = sum(img.size for img in self.image_store.images.values())
        images = []
        for img in self.image_store.images.values():
            summary = image_summary(img, self.image_store)
            summary["Containers"] = sum(1 for c in self.registry.all() if c.image_id == img.id)
            summary["SharedSize"] = 0
            images.append(summary)
        containers = []
        for c in self.registry.all():
            containers.append(container_summary(c, c.config.get("Image") or c.image_id, self.containers.size(c)))
        used = mountplan.in_use(self.registry.all())
        volumes = [v.to_json({"Size": self.volumes.size(v), "RefCount": len(used.get(v.name, []))})
                   for v in self.volumes.volumes.values()]
        return {"LayersSize": layers_size, "Images": images, "Containers": containers, "Volumes": volumes, "BuildCache": []}

    async def pull(self, req: Request) -> Any:
        return await self.pull_handler(req)


def overlay_driver(cfg: EngineConfig, engine_id: str, networks: NetworkService) -> OverlayDriver | None:
    c = cfg.cluster
    if c is None:
        return None
    return OverlayDriver(OverlaySettings(c.store, c.endpoints, c.advertise, c.advertise_text, engine_id,
                                         c.vxlan_port, c.overlay_pool), networks)


def network_settings(cfg: EngineConfig) -> NetworkSettings:
    return NetworkSettings(root=cfg.root, prefix=cfg.bridge_prefix, pool=cfg.address_pool, table=cfg.nft_table,
                           netns_dir=os.path.join(cfg.exec_root, "netns"))


async def teardown(cfg: EngineConfig) -> None:
    """Remove the bridges, namespaces and nftables rules of a stopped engine instance."""
    nets = NetworkService(network_settings(cfg), EventBus())
    nets._load()
    await nets.teardown()


def _socket_answers(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(1)
            s.connect(path)
            return True
    except OSError:
        return False


def _read_flag(path: str) -> bool:
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip() == "1"
    except FileNotFoundError:
        return False


def run(cfg: EngineConfig) -> None:
    observe_logging.configure(cfg.log_level, cfg.log_format, tracing.current_ids)
    if tracing.wanted(cfg.otel, os.environ):
        tracing.setup()
        log.info("tracing with OpenTelemetry (OTLP/HTTP)")
    os.umask(0o022)

    async def main() -> None:
        daemon = Daemon(cfg)
        await daemon.serve()

    try:
        asyncio.run(main())
    except ConfigError as exc:
        log.error("%s", exc)
        raise SystemExit(2) from None
    finally:
        tracing.shutdown()
