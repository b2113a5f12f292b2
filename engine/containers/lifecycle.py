"""Starting, signalling and stopping containers, and noticing when they end.

A running container is watched through a pidfd on its conmon process: when
conmon exits, the container has ended and conmon has written the exit code to
`<container>/exit` (and `oom` if the kernel killed it for memory). `_on_exit`
then records the state, removes the runc state and cgroup, unmounts the rootfs,
publishes `die`, wakes waiters and applies --rm.

Locks: `start` and the exit handler take the container's lock; `stop`, `kill`
and `wait` do not hold it while they wait for the exit (the exit handler needs it).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal as signals
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from engine.containers import cgroups, links, mountplan
from engine.containers.attach import AttachHub
from engine.containers.conmon import connect_attach
from engine.containers.etcwriter import write_etc_files
from engine.containers.health import HealthMonitor
from engine.containers.model import (
    CREATED,
    DEAD,
    EXITED,
    PAUSED,
    REMOVING,
    RESTARTING,
    RUNNING,
    Container,
)
from engine.containers.registry import Registry
from engine.containers.resources import HostSupport
from engine.containers.runtime import (
    CreateRequest,
    Runtime,
    proc_start_time,
    process_alive,
)
from engine.containers.sandbox import build_container_spec
from engine.containers.signals import signal_number
from engine.errors import Conflict, EngineError, NotModified, SystemFault
from engine.events import EventBus
from engine.network.ports import HeldPort
from engine.network.sandboxes import Sandboxes
from engine.observe import metrics
from engine.observe.logging import outside_request
from engine.observe.tracing import traced
from engine.snapshots.layers import LayerStore
from engine.snapshots.rootfs import Rootfs
from engine.util.fs import atomic_write_json
from engine.util.timefmt import now_ns
from engine.volumes.service import VolumeService

log = logging.getLogger(__name__)

DEFAULT_STOP_TIMEOUT = 10


@dataclass(frozen=True)
class LifecycleSettings:
    cgroup_parent: str
    host: HostSupport
    init_path: str | None = None


class Lifecycle:
    def __init__(self, registry: Registry, runtime: Runtime, layers: LayerStore, events: EventBus,
                 settings: LifecycleSettings, sandboxes: Sandboxes, volumes: VolumeService) -> None:
        self.registry = registry
        self.sandboxes = sandboxes
        self.volumes = volumes
        self.runtime = runtime
        self.layers = layers
        self.events = events
        self.settings = settings
        self.attach = AttachHub()
        self._exit_futures: dict[str, asyncio.Future[int]] = {}
        self._removed: dict[str, asyncio.Future[int]] = {}
        self._pidfds: dict[str, int] = {}
        self._init_pidfds: dict[str, int] = {}
        self.on_exit_hooks: list[Callable[[Container], Awaitable[None]]] = []
        self.health = HealthMonitor(runtime.cfg.runc, runtime.cfg.runc_root,
                                    lambda c: self.registry.store.paths(c.id).bundle,
                                    lambda c, status: self.event(c, f"health_status: {status}"),
                                    self.registry.save)
        self.pending_restarts: dict[str, asyncio.Task[None]] = {}

    # -- helpers -------------------------------------------------------------------
    def rootfs(self, c: Container) -> Rootfs:
        return Rootfs(self.layers, self.registry.store.paths(c.id).fs)

    def cgroups_path(self, c: Container) -> str:
        return f"/{self.settings.cgroup_parent.strip('/')}/{c.id}"

    def event(self, c: Container, action: str, extra: dict[str, str] | None = None) -> None:
        attrs = {**(c.config.get("Labels") or {}), "image": c.config.get("Image") or c.image_id, "name": c.name}
        if extra:
            attrs.update(extra)
        self.events.publish("container", action, c.id, attrs)

    def exit_future(self, c: Container) -> asyncio.Future[int]:
        fut = self._exit_futures.get(c.id)
        if fut is None or fut.done():
            fut = asyncio.get_running_loop().create_future()
            self._exit_futures[c.id] = fut
        return fut

    def removed_future(self, c: Container) -> asyncio.Future[int]:
        fut = self._removed.get(c.id)
        if fut is None:
            fut = asyncio.get_running_loop().create_future()
            self._removed[c.id] = fut
        return fut

    def mark_removed(self, c: Container) -> None:
        fut = self._removed.pop(c.id, None)
        if fut is not None and not fut.done():
            fut.set_result(c.state.exit_code)
        fut2 = self._exit_futures.pop(c.id, None)
        if fut2 is not None and not fut2.done():
            fut2.set_result(c.state.exit_code)
        self.attach.cancel_all(c.id)

    # -- start ---------------------------------------------------------------------
    async def start(self, c: Container) -> None:
        async with self.registry.lock(c):
            status = c.state.status
            if status == RESTARTING and c.id in self.pending_restarts:
                self.pending_restarts.pop(c.id).cancel()  # start now instead of after the back-off
                await self._start_locked(c)
                return
            if status == PAUSED:
                raise Conflict("cannot start a paused container, try unpause instead")
            if status in (RUNNING, RESTARTING):
                raise NotModified("container already started")
            if status in (REMOVING, DEAD):
                raise Conflict(f"container {c.id} is marked for removal and cannot be started")
            await self._start_locked(c)

    @traced("container.start")
    async def _start_locked(self, c: Container) -> None:
        began = time.perf_counter()
        paths = self.registry.store.paths(c.id)
        rootfs = self.rootfs(c)
        held: list[HeldPort] = []
        acquired = False
        try:
            merged = rootfs.mount(c.layer_chain)
            os.makedirs(paths.bundle, exist_ok=True)
            ns_paths = self.namespace_paths(c)
            sandbox = await self.sandboxes.attach(c)
            if sandbox is not None:
                ns_paths["network"] = sandbox.path
                held = sandbox.held
            link_env, link_hosts = links.at_start(c, self.registry.find)
            write_etc_files(paths, c, sandbox.addresses if sandbox else [], bool(sandbox and sandbox.embedded_dns),
                            link_hosts)
            volume_mounts = mountplan.prepare(c, merged, self.volumes)
            acquired = True
            spec = build_container_spec(c, merged, paths, self.cgroups_path(c), self.settings.host,
                                        self.settings.init_path, ns_paths, volume_mounts, link_env)
            atomic_write_json(os.path.join(paths.bundle, "config.json"), spec)
            created = await self.runtime.create(CreateRequest(
                cid=c.id, name=c.name, bundle=paths.bundle, persist_dir=paths.dir,
                log_path="" if (c.host_config.get("LogConfig") or {}).get("Type") == "none" else paths.log,
                terminal=bool(c.config.get("Tty")), stdin=bool(c.config.get("OpenStdin")),
                stdin_once=bool(c.config.get("StdinOnce")), extra_fds=tuple(h.sock.fileno() for h in held),
            ))
        except EngineError as exc:
            await self._start_failed(c, rootfs, exc, acquired)
            raise
        except OSError as exc:
            fault = SystemFault(f"cannot start container: {exc}")
            await self._start_failed(c, rootfs, fault, acquired)
            raise fault from exc
        finally:
            for h in held:
                h.sock.close()  # conmon holds the ports from here on
        c.state.pid = created.pid
        c.state.pid_start = proc_start_time(created.pid)
        c.state.conmon_pid = created.conmon_pid
        c.state.conmon_start = proc_start_time(created.conmon_pid)
        self.attach.connect_all(c.id, lambda: connect_attach(paths.bundle))
        self.exit_future(c)
        try:
            outside_request(self._watch, c)  # the exit it waits for is not part of this request
            await self.runtime.start(c.id)
        except EngineError as exc:
            await self.runtime.kill(c.id, signals.SIGKILL)
            c.state.status = RUNNING  # let the exit handler clean up
            self.registry.save(c)
            raise exc
        c.state.status = RUNNING
        c.state.started_ns = now_ns()
        c.state.has_been_started = True
        c.state.manually_stopped = False
        c.state.error = ""
        c.state.exit_code = 0
        c.state.oom_killed = False
        outside_request(self.health.start, c)
        self.registry.save(c)
        self.event(c, "start")
        metrics.observe_container_start(time.perf_counter() - began)

    async def _start_failed(self, c: Container, rootfs: Rootfs, exc: EngineError, volumes_acquired: bool) -> None:
        if volumes_acquired:
            try:
                mountplan.release(c, self.volumes)
            except EngineError:
                log.exception("volume release after failed start")
        try:
            await self.sandboxes.detach(c)
        except Exception:  # the start error is the one to report
            log.exception("network cleanup after failed start")
        try:
            rootfs.unmount()
        except EngineError:
            log.exception("unmount after failed start")
        c.state.error = exc.message
        low = exc.message.lower()
        c.state.exit_code = 127 if ("not found" in low or "no such file" in low) else 126 if "permission denied" in low else 128
        if c.state.status not in (CREATED, EXITED):
            c.state.status = EXITED
        self.registry.save(c)
        self.attach.cancel_all(c.id)
        fut = self._exit_futures.pop(c.id, None)
        if fut is not None and not fut.done():
            fut.set_result(c.state.exit_code)

    def namespace_paths(self, c: Container) -> dict[str, str | None]:
        """`container:<name>` modes become the other container's namespace files."""
        out: dict[str, str | None] = {}
        hc = c.host_config
        for key, ns in (("NetworkMode", "network"), ("IpcMode", "ipc"), ("PidMode", "pid")):
            mode = hc.get(key) or ""
            if mode.startswith("container:"):
                other = self.registry.get(mode.split(":", 1)[1])
                if other.state.status not in (RUNNING, PAUSED):
                    raise Conflict(f"cannot join namespace of a non running container: {other.id}")
                nsname = {"network": "net", "ipc": "ipc", "pid": "pid"}[ns]
                out[ns] = f"/proc/{other.state.pid}/ns/{nsname}"
        return out

    # -- watching --------------------------------------------------------------------
    def _watch(self, c: Container) -> None:
        try:
            fd = os.pidfd_open(c.state.conmon_pid)
        except ProcessLookupError:
            asyncio.get_running_loop().call_soon(self._schedule_exit, c.id)
            return
        self._pidfds[c.id] = fd
        if process_alive(c.state.pid, c.state.pid_start):
            try:
                self._init_pidfds[c.id] = os.pidfd_open(c.state.pid)
            except OSError:
                pass
        asyncio.get_running_loop().add_reader(fd, self._schedule_exit, c.id)

    def _unwatch(self, cid: str) -> None:
        fd = self._pidfds.pop(cid, None)
        if fd is not None:
            asyncio.get_running_loop().remove_reader(fd)
            os.close(fd)
        ifd = self._init_pidfds.pop(cid, None)
        if ifd is not None:
            os.close(ifd)

    def _schedule_exit(self, cid: str) -> None:
        self._unwatch(cid)
        asyncio.get_running_loop().create_task(self._on_exit(cid))

    async def _on_exit(self, cid: str) -> None:
        c = self.registry.by_id.get(cid)
        if c is None:
            return
        async with self.registry.lock(c):
            if c.state.status not in (RUNNING, PAUSED, RESTARTING, REMOVING):
                return
            await self._record_exit(c)
        for hook in self.on_exit_hooks:
            try:
                await hook(c)
            except Exception:  # one hook must not stop the others
                log.exception("exit hook failed for %s", c.short_id)

    async def _record_exit(self, c: Container) -> None:
        self.health.stop(c.id)
        paths = self.registry.store.paths(c.id)
        code = _read_exit_code(paths.exit)
        if code is None:
            # conmon died without recording an exit: make sure nothing is left running.
            if process_alive(c.state.pid, c.state.pid_start):
                await self.runtime.kill(c.id, signals.SIGKILL, all_processes=True)
            code = 137
        oom = os.path.exists(paths.oom) or (c.host_config.get("Memory") and cgroups.oom_kill_count(self.cgroups_path(c)) > 0)
        await self.runtime.delete(c.id)
        try:
            await self.sandboxes.detach(c)
        except Exception:  # the exit must be recorded whatever the network says
            log.exception("network cleanup of %s failed", c.short_id)
        try:
            mountplan.release(c, self.volumes)
        except EngineError:
            log.exception("volume release of %s failed", c.short_id)
        try:
            self.rootfs(c).unmount()
        except EngineError:
            log.exception("unmount of %s failed", c.short_id)
        was_removing = c.state.status == REMOVING
        c.state.exit_code = code
        c.state.oom_killed = bool(oom)
        c.state.pid = 0
        c.state.conmon_pid = 0
        c.state.finished_ns = now_ns()
        if not was_removing:
            c.state.status = EXITED
        self.registry.save(c)
        if oom:
            self.event(c, "oom")
        self.event(c, "die", {"exitCode": str(code)})
        fut = self._exit_futures.pop(c.id, None)
        if fut is not None and not fut.done():
            fut.set_result(code)

    async def wait_exit(self, c: Container, timeout: float | None = None) -> bool:
        """Wait until the current run ends; False on timeout."""
        if c.state.status not in (RUNNING, PAUSED, RESTARTING):
            return True
        if c.state.status == RESTARTING and c.id in self.pending_restarts:
            return True  # ended; only waiting out its restart back-off
        fut = self.exit_future(c)
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout)
            return True
        except TimeoutError:
            return False

    # -- signals -----------------------------------------------------------------------
    async def signal(self, c: Container, sig: int) -> None:
        """Deliver a signal to the container's main process (every process for KILL without a pid namespace)."""
        host_pid_ns = (c.host_config.get("PidMode") or "") == "host"
        ifd = self._init_pidfds.get(c.id)
        if ifd is not None and not (host_pid_ns and sig == signals.SIGKILL):
            try:
                signals.pidfd_send_signal(ifd, sig)
            except ProcessLookupError:
                pass
        else:
            await self.runtime.kill(c.id, sig, all_processes=host_pid_ns and sig == signals.SIGKILL)
        if sig == signals.SIGKILL and c.state.status == PAUSED:
            await self.runtime.resume(c.id)

    async def kill(self, c: Container, signal_name: str | None) -> None:
        sig = signal_number(signal_name, signals.SIGKILL)
        if c.state.status == RESTARTING and c.id in self.pending_restarts:
            raise Conflict(f"Cannot kill container: {c.name}: Container {c.id} is restarting, wait until the container is running")
        if c.state.status not in (RUNNING, PAUSED, RESTARTING):
            raise Conflict(f"Cannot kill container: {c.name}: Container {c.id} is not running")
        c.state.manually_stopped = True
        self.registry.save(c)
        self.event(c, "kill", {"signal": str(sig)})
        await self.signal(c, sig)
        if sig == signals.SIGKILL:
            await self.wait_exit(c, 10)

    def cancel_restart(self, c: Container) -> bool:
        """A container waiting out its restart back-off is stopped where it is."""
        task = self.pending_restarts.pop(c.id, None)
        if task is None:
            if c.state.status == RESTARTING and not process_alive(c.state.pid, c.state.pid_start):
                c.state.status = EXITED
            return False
        task.cancel()
        c.state.status = EXITED
        c.state.manually_stopped = True
        self.registry.save(c)
        return True

    async def stop(self, c: Container, timeout: int | None) -> None:
        if c.state.status not in (RUNNING, PAUSED, RESTARTING):
            raise NotModified("container already stopped")
        if c.state.status == RESTARTING and self.cancel_restart(c):
            self.event(c, "stop")
            return
        c.state.manually_stopped = True
        self.registry.save(c)
        if timeout is None:
            timeout = c.config.get("StopTimeout")
            if timeout is None:
                timeout = DEFAULT_STOP_TIMEOUT
        sig = signal_number(c.config.get("StopSignal") or "SIGTERM", signals.SIGTERM)
        if sig != signals.SIGKILL and timeout != 0:
            self.event(c, "kill", {"signal": str(sig)})
            await self.signal(c, sig)
            if await self.wait_exit(c, None if timeout < 0 else timeout):
                self._settle_restart(c)
                self.event(c, "stop")
                return
        self.event(c, "kill", {"signal": str(int(signals.SIGKILL))})
        await self.signal(c, signals.SIGKILL)
        if not await self.wait_exit(c, 30):
            raise SystemFault(f"container {c.id} did not exit after SIGKILL")
        self._settle_restart(c)
        self.event(c, "stop")

    def _settle_restart(self, c: Container) -> None:
        """The run ended just as it was stopped and its policy scheduled a restart: cancel it,
        so `docker stop` returns with the container exited, not restarting."""
        if c.state.status == RESTARTING:
            self.cancel_restart(c)

    async def pause(self, c: Container) -> None:
        async with self.registry.lock(c):
            if c.state.status == PAUSED:
                raise Conflict(f"Container {c.id} is already paused")
            if c.state.status != RUNNING:
                raise Conflict(f"Container {c.id} is not running")
            await self.runtime.pause(c.id)
            c.state.status = PAUSED
            self.registry.save(c)
            self.event(c, "pause")

    async def unpause(self, c: Container) -> None:
        async with self.registry.lock(c):
            if c.state.status != PAUSED:
                raise Conflict(f"Container {c.id} is not paused")
            await self.runtime.resume(c.id)
            c.state.status = RUNNING
            self.registry.save(c)
            self.event(c, "unpause")

    # -- recovery ------------------------------------------------------------------------
    async def recover(self, c: Container) -> None:
        """Called at engine start for every container record."""
        if c.state.status in (RUNNING, PAUSED, RESTARTING):
            if process_alive(c.state.conmon_pid, c.state.conmon_start):
                self.exit_future(c)
                self._watch(c)
                await self.sandboxes.restore(c)
                self.health.resume(c)
                if c.state.status == PAUSED:
                    state = await self.runtime.state(c.id)
                    if state and state.get("status") == "running":
                        c.state.status = RUNNING
                        self.registry.save(c)
                return
            async with self.registry.lock(c):
                await self._record_exit(c)
            for hook in self.on_exit_hooks:
                await hook(c)
            return
        if c.state.status in (CREATED, EXITED, DEAD):
            if c.sandbox_key:
                await self.sandboxes.detach(c)
                self.registry.save(c)
            try:
                self.rootfs(c).unmount()
            except EngineError:
                log.exception("unmount at recovery")

    def close(self) -> None:
        self.health.close()
        for task in self.pending_restarts.values():
            task.cancel()
        loop = asyncio.get_event_loop()
        for cid in list(self._pidfds):
            fd = self._pidfds.pop(cid)
            try:
                loop.remove_reader(fd)
            except (RuntimeError, ValueError):
                pass
            os.close(fd)
        for fd in self._init_pidfds.values():
            os.close(fd)
        self._init_pidfds.clear()


def _read_exit_code(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as f:
            text = f.read().strip()
    except FileNotFoundError:
        return None
    try:
        code = int(text)
    except ValueError:
        return None
    return code if code >= 0 else 137

