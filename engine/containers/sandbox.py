"""Everything `runc` needs to know about one container, gathered from its record,
its mounted rootfs and the host: returns the OCI spec for `spec.build_spec`.

Reads the rootfs's /etc/passwd and /etc/group (safely, never following a link
out of the rootfs), creates the working directory, and chooses namespaces,
mounts, devices and the seccomp policy from the host config.
"""

from __future__ import annotations

import json
import os
import stat
from typing import Any

from engine.containers import resources, users
from engine.containers import spec as specs
from engine.containers.create import no_new_privileges, seccomp_mode
from engine.containers.model import Container
from engine.containers.resources import HostSupport
from engine.containers.store import ContainerPaths
from engine.errors import InvalidArgument
from engine.snapshots.tarsafe import UnsafeArchive, resolve_inside

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
INIT_PATH_IN_CONTAINER = "/sbin/docker-init"


def read_rootfs_file(rootfs: str, path: str) -> str:
    try:
        real = resolve_inside(rootfs, path.lstrip("/"), follow_last=True)
    except UnsafeArchive:
        return ""
    try:
        with open(real, encoding="utf-8", errors="replace") as f:
            return f.read(1 << 20)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
        return ""


def ensure_workdir(rootfs: str, workdir: str, uid: int, gid: int) -> None:
    if not workdir or workdir == "/":
        return
    try:
        real = resolve_inside(rootfs, workdir.lstrip("/"), follow_last=True)
    except UnsafeArchive as exc:
        raise InvalidArgument(f"invalid working directory {workdir}: {exc.message}") from None
    if os.path.isdir(real):
        return
    if os.path.lexists(real):
        raise InvalidArgument(f"Cannot start container: working directory {workdir} is not a directory")
    os.makedirs(real, mode=0o755, exist_ok=True)
    os.chown(real, uid, gid)


def container_env(c: Container, link_env: list[str] | None = None) -> list[str]:
    """Docker's order: PATH (if the config has none), HOSTNAME, TERM for a TTY, link variables, then the config's Env."""
    merged: dict[str, str] = {"PATH": DEFAULT_PATH}
    merged["HOSTNAME"] = f"HOSTNAME={c.config.get('Hostname') or c.short_id}"
    if c.config.get("Tty"):
        merged["TERM"] = "TERM=xterm"
    for item in (link_env or []) + (c.config.get("Env") or []):
        merged[item.partition("=")[0]] = item
    return list(merged.values())


def host_devices() -> list[dict[str, Any]]:
    """Every device node of the host, for --privileged."""
    out: list[dict[str, Any]] = []
    for dirpath, dirnames, filenames in os.walk("/dev"):
        dirnames[:] = [d for d in dirnames if d not in ("pts", "shm", "mqueue", "fd")]
        for name in filenames:
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISCHR(st.st_mode):
                kind = "c"
            elif stat.S_ISBLK(st.st_mode):
                kind = "b"
            else:
                continue
            if path in ("/dev/console", "/dev/ptmx", "/dev/tty"):
                continue
            out.append({"path": path, "type": kind, "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
                        "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid})
    return out


def user_devices(devices: list[dict[str, Any]] | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """--device host[:container[:perms]] → OCI devices and cgroup allow rules."""
    nodes, rules = [], []
    for dev in devices or []:
        host_path = dev.get("PathOnHost") or ""
        inner = dev.get("PathInContainer") or host_path
        perms = dev.get("CgroupPermissions") or "rwm"
        try:
            st = os.stat(host_path)
        except OSError:
            raise InvalidArgument(f"error gathering device information while adding custom device \"{host_path}\": no such file or directory") from None
        if not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
            raise InvalidArgument(f"error gathering device information while adding custom device \"{host_path}\": not a device node")
        kind = "c" if stat.S_ISCHR(st.st_mode) else "b"
        major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
        nodes.append({"path": inner, "type": kind, "major": major, "minor": minor,
                      "fileMode": stat.S_IMODE(st.st_mode), "uid": 0, "gid": 0})
        rules.append({"allow": True, "type": kind, "major": major, "minor": minor, "access": perms})
    return nodes, rules


def namespaces(c: Container, ns_paths: dict[str, str | None], host: HostSupport) -> list[tuple[str, str | None]]:
    hc = c.host_config
    out: list[tuple[str, str | None]] = [("mount", None)]
    if (hc.get("PidMode") or "") != "host":
        out.append(("pid", ns_paths.get("pid")))
    if (hc.get("IpcMode") or "") != "host":
        out.append(("ipc", ns_paths.get("ipc")))
    if (hc.get("UTSMode") or "") != "host":
        out.append(("uts", None))
    if (hc.get("NetworkMode") or "") != "host":
        out.append(("network", ns_paths.get("network")))
    if host.version == 2 and (hc.get("CgroupnsMode") or "private") == "private":
        out.append(("cgroup", None))
    return out


def _bind(dest: str, source: str, readonly: bool = False) -> dict[str, Any]:
    return {"destination": dest, "type": "bind", "source": source,
            "options": ["rbind", "rprivate", *(["ro"] if readonly else [])]}


def build_container_spec(c: Container, rootfs: str, paths: ContainerPaths, cgroups_path: str, host: HostSupport,
                         init_path: str | None, ns_paths: dict[str, str | None],
                         extra_mounts: list[dict[str, Any]] | None = None,
                         link_env: list[str] | None = None) -> dict[str, Any]:
    hc = c.host_config
    user = users.resolve(c.config.get("User") or "", read_rootfs_file(rootfs, "/etc/passwd"),
                         read_rootfs_file(rootfs, "/etc/group"), hc.get("GroupAdd"))
    workdir = c.config.get("WorkingDir") or "/"
    ensure_workdir(rootfs, workdir, 0, 0)
    privileged = bool(hc.get("Privileged"))
    caps = specs.capabilities(hc.get("CapAdd"), hc.get("CapDrop"), privileged)
    mode = seccomp_mode(hc)
    if privileged or mode == "unconfined":
        seccomp = None
    elif mode and mode != "builtin":
        try:
            seccomp = json.loads(mode)
        except ValueError:
            raise InvalidArgument("Decoding seccomp profile failed: invalid JSON") from None
    else:
        seccomp = specs.default_seccomp(caps)
    args = [c.path, *c.args]
    mounts: list[dict[str, Any]] = []
    if hc.get("Init") and init_path:
        mounts.append(_bind(INIT_PATH_IN_CONTAINER, init_path, readonly=True))
        args = [INIT_PATH_IN_CONTAINER, "--", *args]
    mounts.append(_bind("/etc/resolv.conf", paths.resolv_conf))
    mounts.append(_bind("/etc/hostname", paths.hostname))
    mounts.append(_bind("/etc/hosts", paths.hosts))
    ipc_mode = hc.get("IpcMode") or "private"
    if ipc_mode == "host":
        mounts.append(_bind("/dev/shm", "/dev/shm"))
    for dest, opts in (hc.get("Tmpfs") or {}).items():
        options = ["noexec", "nosuid", "nodev", *[o for o in (opts or "").split(",") if o]]
        mounts.append({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": options})
    mounts += extra_mounts or []
    devices, device_rules = user_devices(hc.get("Devices"))
    if privileged:
        devices = host_devices() + devices
    res = resources.oci_resources(hc, privileged)
    res["devices"] = res["devices"] + device_rules
    console = hc.get("ConsoleSize") or [0, 0]
    inputs = specs.SpecInputs(
        rootfs=rootfs,
        args=args,
        env=container_env(c, link_env),
        cwd=workdir,
        uid=user.uid,
        gid=user.gid,
        additional_gids=user.additional_gids,
        hostname=c.config.get("Hostname") or c.short_id,
        domainname=c.config.get("Domainname") or "",
        terminal=bool(c.config.get("Tty")),
        console_size=(int(console[0] or 0), int(console[1] or 0)) if len(console) == 2 else (0, 0),
        readonly_rootfs=bool(hc.get("ReadonlyRootfs")),
        capabilities=tuple(caps),
        privileged=privileged,
        no_new_privileges=no_new_privileges(hc),
        seccomp_profile=seccomp,
        namespaces=tuple(namespaces(c, ns_paths, host)),
        cgroups_path=cgroups_path,
        resources=res,
        mounts=tuple(mounts),
        rlimits=tuple(specs.parse_ulimits(hc.get("Ulimits"))),
        oom_score_adj=hc.get("OomScoreAdj") or None,
        sysctls=dict(hc.get("Sysctls") or {}),
        devices=tuple(devices),
        masked_paths=tuple(hc["MaskedPaths"]) if hc.get("MaskedPaths") is not None else None,
        readonly_paths=tuple(hc["ReadonlyPaths"]) if hc.get("ReadonlyPaths") is not None else None,
        shm_size=int(hc.get("ShmSize") or specs.DEFAULT_SHM_SIZE),
        ipc_private=ipc_mode not in ("host",) and not ipc_mode.startswith("container:"),
    )
    return specs.build_spec(inputs)
