"""From a create request and an image to a container record (pure).

Docker's merge rules: the image supplies Cmd only when the request gives neither
Cmd nor Entrypoint; Env is the request's followed by the image's it does not override;
Labels, ExposedPorts and Volumes are unions; WorkingDir, User, StopSignal and
Healthcheck fall back to the image's. The host config gets Docker's defaults
(restart policy "no", json-file log config, 64 MB /dev/shm, swap twice memory).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from engine.api import schema
from engine.containers import resources
from engine.containers.resources import HostSupport
from engine.containers.spec import MASKED_PATHS, READONLY_PATHS, capabilities
from engine.errors import InvalidArgument, SystemFault

RESTART_POLICIES = ("", "no", "always", "unless-stopped", "on-failure")
_ENV_NAME_RE = re.compile(r"^[^=]+$")


def merge_env(image_env: list[str] | None, user_env: list[str] | None) -> list[str]:
    """The request's variables first, then the image's that the request does not set (Docker's order)."""
    merged: dict[str, str] = {}
    for item in user_env or []:
        key = item.partition("=")[0]
        if not key:
            raise InvalidArgument(f"invalid environment variable: {item}")
        merged[key] = item
    for item in image_env or []:
        merged.setdefault(item.partition("=")[0], item)
    return list(merged.values())


def merge_config(user: dict[str, Any], image: dict[str, Any]) -> dict[str, Any]:
    """The container's Config: the request merged over the image's config."""
    cfg: dict[str, Any] = {}
    cfg["Hostname"] = user.get("Hostname") or ""
    cfg["Domainname"] = user.get("Domainname") or ""
    cfg["User"] = user.get("User") or image.get("User") or ""
    for key in ("AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce"):
        cfg[key] = bool(user.get(key))
    ports = dict(image.get("ExposedPorts") or {})
    ports.update(user.get("ExposedPorts") or {})
    if ports:
        cfg["ExposedPorts"] = ports
    cfg["Env"] = merge_env(image.get("Env"), user.get("Env"))
    entrypoint = schema.strslice(user.get("Entrypoint"))
    cmd = schema.strslice(user.get("Cmd"))
    if entrypoint == [""]:
        entrypoint = []  # --entrypoint "" resets the image's entrypoint
    if not entrypoint:
        cfg["Cmd"] = cmd if cmd else image.get("Cmd")
        cfg["Entrypoint"] = image.get("Entrypoint") if entrypoint is None else None
    else:
        cfg["Cmd"] = cmd
        cfg["Entrypoint"] = entrypoint
    health = user.get("Healthcheck")
    image_health = image.get("Healthcheck")
    if health is not None:
        merged_health = dict(image_health or {})
        if health.get("Test"):
            merged_health = {}
        for key, value in health.items():
            if value not in (None, 0, []):
                merged_health[key] = value
        cfg["Healthcheck"] = merged_health
    elif image_health is not None:
        cfg["Healthcheck"] = copy.deepcopy(image_health)
    cfg["Image"] = user.get("Image") or ""
    volumes = dict(image.get("Volumes") or {})
    volumes.update(user.get("Volumes") or {})
    cfg["Volumes"] = volumes or None
    cfg["WorkingDir"] = user.get("WorkingDir") or image.get("WorkingDir") or ""
    cfg["OnBuild"] = image.get("OnBuild") or None
    labels = dict(image.get("Labels") or {})
    labels.update(user.get("Labels") or {})
    cfg["Labels"] = labels
    stop_signal = user.get("StopSignal") or image.get("StopSignal")
    if stop_signal:
        cfg["StopSignal"] = stop_signal
    if user.get("StopTimeout") is not None:
        cfg["StopTimeout"] = user["StopTimeout"]
    if user.get("MacAddress"):
        cfg["MacAddress"] = user["MacAddress"]
    if user.get("NetworkDisabled"):
        cfg["NetworkDisabled"] = True
    shell = user.get("Shell") or image.get("Shell")
    if shell:
        cfg["Shell"] = shell
    return cfg


def command_of(cfg: dict[str, Any]) -> tuple[str, list[str]]:
    argv = list(cfg.get("Entrypoint") or []) + list(cfg.get("Cmd") or [])
    if not argv:
        raise InvalidArgument("No command specified")
    return argv[0], argv[1:]


def restart_policy(policy: dict[str, Any]) -> dict[str, Any]:
    """A checked RestartPolicy with Docker's messages; an empty name means "no" and is kept empty, as Docker keeps it."""
    given = policy.get("Name") or ""
    name = given or "no"
    if name not in RESTART_POLICIES:
        raise InvalidArgument(f"invalid restart policy '{name}'")
    retries = int(policy.get("MaximumRetryCount") or 0)
    if retries < 0:
        raise InvalidArgument("maximum retry count cannot be negative")
    if retries and name != "on-failure":
        raise InvalidArgument(f"maximum retry count cannot be used with restart policy '{name}'")
    return {"Name": given, "MaximumRetryCount": retries}


def normalize_host_config(hc_in: dict[str, Any] | None, host: HostSupport) -> tuple[dict[str, Any], list[str]]:
    hc = copy.deepcopy(hc_in or {})
    hc.setdefault("NetworkMode", "default")
    if not hc.get("NetworkMode"):
        hc["NetworkMode"] = "default"
    hc["RestartPolicy"] = restart_policy(hc.get("RestartPolicy") or {})
    if hc.get("AutoRemove") and hc["RestartPolicy"]["Name"] not in ("", "no"):
        raise InvalidArgument("can't create 'AutoRemove' container with restart policy")
    log_config = hc.get("LogConfig") or {}
    log_type = log_config.get("Type") or "json-file"
    if log_type not in ("json-file", "local", "k8s-file", "none"):
        raise InvalidArgument(f'logger: no log driver named \'{log_type}\' is registered')
    hc["LogConfig"] = {"Type": log_type, "Config": log_config.get("Config") or {}}
    if hc.get("StorageOpt"):  # overlay2 without xfs project quotas: Docker refuses too (with a 500)
        raise SystemFault("--storage-opt is supported only for overlay over xfs with 'pquota' mount option")
    _docker_defaults(hc, host)
    if not -1000 <= hc["OomScoreAdj"] <= 1000:
        raise InvalidArgument(f"Invalid value {hc['OomScoreAdj']}, range for oom score adj is [-1000, 1000]")
    for opt in hc.get("SecurityOpt") or []:
        key = opt.split("=", 1)[0].split(":", 1)[0]
        if key not in ("no-new-privileges", "seccomp", "apparmor", "label"):
            # Docker's daemon answers 500; `systempaths=unconfined` is the CLI's, sent as empty MaskedPaths/ReadonlyPaths
            raise SystemFault(f'invalid --security-opt 2: "{opt}"')
    capabilities(hc.get("CapAdd"), hc.get("CapDrop"), hc["Privileged"])  # validates names
    for path in (hc.get("Tmpfs") or {}):
        if not path.startswith("/"):
            raise InvalidArgument(f"invalid mount config for type \"tmpfs\": invalid mount path: '{path}' mount path must be absolute")
    warnings = resources.normalize(hc, host)
    return hc, warnings


def _docker_defaults(hc: dict[str, Any], host: HostSupport) -> None:
    """Fill what Docker fills in a new container's HostConfig; lists it echoes stay null when not given."""
    if not hc.get("ShmSize"):
        hc["ShmSize"] = 64 * 1024 * 1024
    for key in ("Binds", "Links", "VolumesFrom", "CapAdd", "CapDrop", "Dns", "DnsOptions", "DnsSearch",
                "ExtraHosts", "GroupAdd", "SecurityOpt", "PortBindings", "ConsoleSize", "MemorySwappiness",
                "PidsLimit", "Ulimits", "Devices", "DeviceCgroupRules", "DeviceRequests", "BlkioWeightDevice",
                "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps"):
        hc.setdefault(key, None)
    for key in ("IpcMode", "PidMode", "UTSMode", "UsernsMode", "CgroupnsMode", "Cgroup", "CgroupParent",
                "CpusetCpus", "CpusetMems", "VolumeDriver", "ContainerIDFile", "Runtime", "Isolation"):
        hc[key] = hc.get(key) or ""
    hc["IpcMode"] = hc["IpcMode"] or "private"
    hc["CgroupnsMode"] = hc["CgroupnsMode"] or ("private" if host.version == 2 else "host")
    hc["Runtime"] = hc["Runtime"] or "runc"
    hc["ConsoleSize"] = hc["ConsoleSize"] or [0, 0]
    for key in ("Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuShares", "CpuPeriod", "CpuQuota",
                "CpuRealtimePeriod", "CpuRealtimeRuntime", "BlkioWeight", "KernelMemory", "KernelMemoryTCP",
                "CpuCount", "CpuPercent", "IOMaximumIOps", "IOMaximumBandwidth", "OomScoreAdj"):
        hc[key] = int(hc.get(key) or 0)
    for key in ("Privileged", "PublishAllPorts", "ReadonlyRootfs", "AutoRemove"):
        hc[key] = bool(hc.get(key))
    if hc.get("OomKillDisable") is None:
        hc["OomKillDisable"] = False  # Docker's default on Linux
    for key in ("Init", "Mounts", "Tmpfs", "Sysctls", "StorageOpt"):
        if not hc.get(key) and key in hc and hc[key] is not False:
            del hc[key]  # omitted when empty, as Docker's JSON does (`omitempty`)
    _system_paths(hc)
    _label_opt(hc)


def _label_opt(hc: dict[str, Any]) -> None:
    """Docker records "label=disable" for privileged, host-PID and host-IPC containers unless a label= option was given."""
    opts = list(hc.get("SecurityOpt") or [])
    if any(o.replace(":", "=", 1).partition("=")[0] == "label" for o in opts):
        return
    if hc["Privileged"] or hc["IpcMode"] == "host" or hc["PidMode"] == "host":
        hc["SecurityOpt"] = [*opts, "label=disable"]


def _system_paths(hc: dict[str, Any]) -> None:
    """MaskedPaths/ReadonlyPaths as Docker records them: as given (the CLI's systempaths=unconfined sends []),
    else its defaults, none when privileged."""
    for key, default in (("MaskedPaths", MASKED_PATHS), ("ReadonlyPaths", READONLY_PATHS)):
        if hc.get(key) is None:
            hc[key] = None if hc["Privileged"] else list(default)


def no_new_privileges(hc: dict[str, Any]) -> bool:
    for opt in hc.get("SecurityOpt") or []:
        key, sep, value = opt.replace(":", "=", 1).partition("=")
        if key == "no-new-privileges":
            if not sep or value.lower() in ("true", "1", ""):
                return True
            if value.lower() in ("false", "0"):
                return False
            raise InvalidArgument(f"invalid --security-opt 2: {opt!r}")
    return False


def seccomp_mode(hc: dict[str, Any]) -> str:
    for opt in hc.get("SecurityOpt") or []:
        key, _, value = opt.replace(":", "=", 1).partition("=")
        if key == "seccomp":
            return value
    return ""
