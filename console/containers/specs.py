"""A container spec — what a person asked for in the create form or the API — and the engine request it becomes.

The spec is plain JSON, kept as the person wrote it (sizes like "512m", port
ranges like "8000-8010", a pasted .env file), so "Duplicate" and "Edit" can give
it back to them unchanged. `create_config(spec)` turns a validated spec into the
body of the Engine API's `POST /containers/create` (Config + HostConfig +
NetworkingConfig). Both are pure; validation lives in console/containers/forms.py,
which calls the same parsers, so a spec that passed the form always builds.

Shape (every key optional except image; rows are lists of objects):

    image, name, command, entrypoint, working_dir, user, env_file,
    env: [{name, value}], labels: [{name, value}],
    ports: [{host_ip, host_port, container_port, protocol}],
    volumes: [{type: volume|bind|tmpfs, source, target, read_only}],
    network, aliases, restart_policy: no|always|unless-stopped|on-failure, max_retries,
    memory, cpu_shares, cpus, blkio_weight, pids_limit,
    health_command, health_interval, health_timeout, health_retries, health_start_period, no_healthcheck,
    privileged
"""

from __future__ import annotations

from typing import Any

from console.containers.parsing import (
    parse_cpus,
    parse_duration_ns,
    parse_env_file,
    parse_host_ip,
    parse_port_range,
    parse_size,
    split_command,
    split_words,
)

Spec = dict[str, Any]
ROW_KEYS = ("env", "ports", "volumes", "labels")
RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")
VOLUME_TYPES = ("volume", "bind", "tmpfs")
BUILTIN_NETWORKS = ("", "default", "bridge", "host", "none")


def port_pairs(host_port: str, container_port: str) -> list[tuple[int, str]]:
    """(container port, HostPort) pairs for one port row, as `docker run -p` expands them.

    "8080" → "80": [(80, "8080")]; "" → "80-81": [(80, ""), (81, "")];
    "8000-8001" → "80-81": pairwise; "8000-8010" → "80": [(80, "8000-8010")]
    (the engine picks a free port in the range). Raises ValueError when a host
    range and a container range differ in length.
    """
    c_lo, c_hi = parse_port_range(container_port)
    if not host_port.strip():
        return [(p, "") for p in range(c_lo, c_hi + 1)]
    h_lo, h_hi = parse_port_range(host_port)
    if c_lo == c_hi:
        return [(c_lo, str(h_lo) if h_lo == h_hi else f"{h_lo}-{h_hi}")]
    if h_hi - h_lo != c_hi - c_lo:
        raise ValueError("a host range must be as long as the container range")
    return [(c, str(h_lo + i)) for i, c in enumerate(range(c_lo, c_hi + 1))]


def environment(spec: Spec) -> list[str]:
    """NAME=value strings: the pasted .env file first, then the rows (a row wins over a file line)."""
    merged: dict[str, str] = dict(parse_env_file(spec.get("env_file") or ""))
    for row in spec.get("env") or []:
        merged[row["name"].strip()] = row.get("value", "")
    return [f"{k}={v}" for k, v in merged.items()]


def _healthcheck(spec: Spec) -> dict[str, Any] | None:
    if spec.get("no_healthcheck"):
        return {"Test": ["NONE"]}
    command = (spec.get("health_command") or "").strip()
    if not command:
        return None
    check: dict[str, Any] = {"Test": ["CMD-SHELL", command]}
    for key, field in (("Interval", "health_interval"), ("Timeout", "health_timeout"), ("StartPeriod", "health_start_period")):
        if (spec.get(field) or "").strip():
            check[key] = parse_duration_ns(spec[field])
    if spec.get("health_retries") not in (None, ""):
        check["Retries"] = int(spec["health_retries"])
    return check


def _port_bindings(spec: Spec) -> tuple[dict[str, dict], dict[str, list[dict[str, str]]]]:
    exposed: dict[str, dict] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for row in spec.get("ports") or []:
        proto = row.get("protocol") or "tcp"
        host_ip = parse_host_ip(row.get("host_ip") or "")
        for port, host_port in port_pairs(row.get("host_port") or "", str(row["container_port"])):
            key = f"{port}/{proto}"
            exposed[key] = {}
            bindings.setdefault(key, []).append({"HostIp": host_ip, "HostPort": host_port})
    return exposed, bindings


def _mounts(spec: Spec) -> list[dict[str, Any]]:
    mounts = []
    for row in spec.get("volumes") or []:
        kind = row.get("type") or "volume"
        mount: dict[str, Any] = {"Type": kind, "Target": row["target"].strip(), "ReadOnly": bool(row.get("read_only"))}
        if kind != "tmpfs" and (row.get("source") or "").strip():
            mount["Source"] = row["source"].strip()
        mounts.append(mount)
    return mounts


def _resources(spec: Spec) -> dict[str, Any]:
    res: dict[str, Any] = {}
    if (spec.get("memory") or "").strip():
        res["Memory"] = parse_size(spec["memory"])
    if (spec.get("cpus") or "").strip():
        res["NanoCpus"] = parse_cpus(spec["cpus"])
    for key, field in (("CpuShares", "cpu_shares"), ("BlkioWeight", "blkio_weight"), ("PidsLimit", "pids_limit")):
        if spec.get(field) not in (None, ""):
            res[key] = int(spec[field])
    return res


def _host_config(spec: Spec, bindings: dict[str, list[dict[str, str]]]) -> dict[str, Any]:
    policy = spec.get("restart_policy") or "no"
    host: dict[str, Any] = {
        "PortBindings": bindings,
        "Mounts": _mounts(spec),
        "RestartPolicy": {"Name": "" if policy == "no" else policy,
                          "MaximumRetryCount": int(spec.get("max_retries") or 0) if policy == "on-failure" else 0},
        **_resources(spec),
    }
    network = (spec.get("network") or "").strip()
    if network and network != "default":
        host["NetworkMode"] = network
    if spec.get("privileged"):
        host["Privileged"] = True
    return host


def create_config(spec: Spec) -> dict[str, Any]:
    """The JSON body of `POST /containers/create` for a validated spec (the name goes in the query)."""
    exposed, bindings = _port_bindings(spec)
    config: dict[str, Any] = {
        "Image": spec["image"].strip(),
        "Env": environment(spec),
        "Labels": {row["name"].strip(): row.get("value", "") for row in spec.get("labels") or []},
        "ExposedPorts": exposed,
        "HostConfig": _host_config(spec, bindings),
    }
    for key, field in (("Cmd", "command"), ("Entrypoint", "entrypoint")):
        if (spec.get(field) or "").strip():
            config[key] = split_command(spec[field])
    for key, field in (("WorkingDir", "working_dir"), ("User", "user")):
        if (spec.get(field) or "").strip():
            config[key] = spec[field].strip()
    health = _healthcheck(spec)
    if health:
        config["Healthcheck"] = health
    network = (spec.get("network") or "").strip()
    aliases = split_words(spec.get("aliases") or "")
    if network and network not in BUILTIN_NETWORKS:
        config["NetworkingConfig"] = {"EndpointsConfig": {network: {"Aliases": aliases} if aliases else {}}}
    return config


def duplicate_of(spec: Spec) -> Spec:
    """The spec to prefill "Duplicate" with: the same under a new name, with host ports left to the engine.

    The original still holds its host ports, so a copy asking for them again
    could never start; an empty host port means "any free port".
    """
    copy = dict(spec)
    if copy.get("name"):
        copy["name"] = f"{copy['name']}-copy"
    copy["ports"] = [{**row, "host_port": ""} for row in spec.get("ports") or []]
    return copy
