"""Type checks for request bodies, with the messages Go's JSON decoder gives (pure).

Docker decodes request bodies into typed Go structs; a wrong type is a 400 such as
`json: cannot unmarshal string into Go struct field HostConfig.Memory of type int64`.
Berth checks the fields it knows the same way and ignores fields it does not know
(newer clients send fields older API versions lack).
"""

from __future__ import annotations

from typing import Any

from engine.errors import InvalidArgument

INT64 = (-(2**63), 2**63 - 1)
RANGES = {"int64": INT64, "int": INT64, "uint16": (0, 65535), "uint32": (0, 2**32 - 1), "uint64": (0, 2**64 - 1)}

CONFIG_FIELDS: dict[str, str] = {
    "Hostname": "string", "Domainname": "string", "User": "string", "AttachStdin": "bool",
    "AttachStdout": "bool", "AttachStderr": "bool", "ExposedPorts": "object", "Tty": "bool",
    "OpenStdin": "bool", "StdinOnce": "bool", "Env": "[]string", "Cmd": "strslice",
    "Healthcheck": "object", "ArgsEscaped": "bool", "Image": "string", "Volumes": "object",
    "WorkingDir": "string", "Entrypoint": "strslice", "NetworkDisabled": "bool", "MacAddress": "string",
    "OnBuild": "[]string", "Labels": "map[string]string", "StopSignal": "string", "StopTimeout": "*int",
    "Shell": "strslice", "HostConfig": "object", "NetworkingConfig": "object",
}

HOST_CONFIG_FIELDS: dict[str, str] = {
    "Binds": "[]string", "ContainerIDFile": "string", "LogConfig": "object", "NetworkMode": "string",
    "PortBindings": "object", "RestartPolicy": "object", "AutoRemove": "bool", "VolumeDriver": "string",
    "VolumesFrom": "[]string", "CapAdd": "strslice", "CapDrop": "strslice", "CgroupnsMode": "string",
    "Dns": "[]string", "DnsOptions": "[]string", "DnsSearch": "[]string", "ExtraHosts": "[]string",
    "GroupAdd": "[]string", "IpcMode": "string", "Cgroup": "string", "Links": "[]string",
    "OomScoreAdj": "int", "PidMode": "string", "Privileged": "bool", "PublishAllPorts": "bool",
    "ReadonlyRootfs": "bool", "SecurityOpt": "[]string", "StorageOpt": "map[string]string",
    "Tmpfs": "map[string]string", "UTSMode": "string", "UsernsMode": "string", "ShmSize": "int64",
    "Sysctls": "map[string]string", "Runtime": "string", "ConsoleSize": "[2]uint", "Isolation": "string",
    "CpuShares": "int64", "Memory": "int64", "NanoCpus": "int64", "CgroupParent": "string",
    "BlkioWeight": "uint16", "BlkioWeightDevice": "array", "BlkioDeviceReadBps": "array",
    "BlkioDeviceWriteBps": "array", "BlkioDeviceReadIOps": "array", "BlkioDeviceWriteIOps": "array",
    "CpuPeriod": "int64", "CpuQuota": "int64", "CpuRealtimePeriod": "int64", "CpuRealtimeRuntime": "int64",
    "CpusetCpus": "string", "CpusetMems": "string", "Devices": "array", "DeviceCgroupRules": "[]string",
    "DeviceRequests": "array", "KernelMemory": "int64", "KernelMemoryTCP": "int64",
    "MemoryReservation": "int64", "MemorySwap": "int64", "MemorySwappiness": "*int64",
    "OomKillDisable": "*bool", "PidsLimit": "*int64", "Ulimits": "array", "CpuCount": "int64",
    "CpuPercent": "int64", "IOMaximumIOps": "uint64", "IOMaximumBandwidth": "uint64",
    "MaskedPaths": "[]string", "ReadonlyPaths": "[]string", "Init": "*bool", "Mounts": "array",
}

RESTART_POLICY_FIELDS = {"Name": "string", "MaximumRetryCount": "int"}
ULIMIT_FIELDS = {"Name": "string", "Soft": "int64", "Hard": "int64"}
HEALTHCHECK_FIELDS = {
    "Test": "[]string", "Interval": "int64", "Timeout": "int64", "StartPeriod": "int64",
    "StartInterval": "int64", "Retries": "int",
}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return f"number {value}"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _fail(value: Any, where: str, gotype: str) -> InvalidArgument:
    return InvalidArgument(f"json: cannot unmarshal {_json_type(value)} into Go struct field {where} of type {gotype}")


def check_value(value: Any, kind: str, where: str) -> None:
    nullable = kind.startswith("*") or kind in ("[]string", "strslice", "object", "array", "map[string]string")
    base = kind.lstrip("*")
    if value is None:
        if nullable or base in ("string", "bool") or base in RANGES:
            return  # Go leaves the zero value for an explicit null
        return
    if base == "string":
        if not isinstance(value, str):
            raise _fail(value, where, "string")
    elif base == "bool":
        if not isinstance(value, bool):
            raise _fail(value, where, "bool")
    elif base in RANGES:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(value, where, base)
        if isinstance(value, float) and not value.is_integer():
            raise _fail(value, where, base)
        lo, hi = RANGES[base]
        if not lo <= int(value) <= hi:
            raise _fail(value, where, base)
    elif base == "[]string":
        if not isinstance(value, list):
            raise _fail(value, where, "[]string")
        for item in value:
            if not isinstance(item, str):
                raise _fail(item, where, "string")
    elif base == "strslice":
        if isinstance(value, str):
            return
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _fail(value, where, "strslice.StrSlice")
    elif base == "map[string]string":
        if not isinstance(value, dict):
            raise _fail(value, where, "map[string]string")
        for item in value.values():
            if not isinstance(item, str):
                raise _fail(item, where, "string")
    elif base == "object":
        if not isinstance(value, dict):
            raise _fail(value, where, "struct")
    elif base == "array":
        if not isinstance(value, list):
            raise _fail(value, where, "[]")
    elif base == "[2]uint":
        if not isinstance(value, list) or len(value) > 2:
            raise _fail(value, where, "[2]uint")
        for item in value:
            check_value(item, "uint32", where)


EXEC_CONFIG_FIELDS = ("User", "Privileged", "Tty", "ConsoleSize", "AttachStdin", "AttachStderr", "AttachStdout",
                      "Detach", "DetachKeys", "Env", "WorkingDir", "Cmd")
EXEC_START_FIELDS = ("Detach", "Tty", "ConsoleSize")


def go_field_names(doc: Any, fields: tuple[str, ...]) -> Any:
    """`doc` with keys renamed to `fields` matched case-insensitively, as Go's JSON decoder matches them.

    docker-py sends `detachKeys` for exec's `DetachKeys`; Docker accepts it. An exact
    name wins over a case-insensitive one. Anything not an object is returned as is.
    """
    if not isinstance(doc, dict):
        return doc
    by_lower = {f.lower(): f for f in fields}
    out: dict[str, Any] = {}
    for key, value in doc.items():
        canonical = by_lower.get(key.lower(), key) if isinstance(key, str) else key
        if canonical in out and key != canonical:
            continue
        out[canonical] = value
    return out


def check_fields(doc: dict[str, Any], fields: dict[str, str], struct: str) -> None:
    for name, kind in fields.items():
        if name in doc:
            check_value(doc[name], kind, f"{struct}.{name}")


def check_create_body(body: Any) -> dict[str, Any]:
    """Validate a POST /containers/create body; returns it (unknown keys kept, ignored later)."""
    if not isinstance(body, dict):
        raise InvalidArgument("json: cannot unmarshal non-object into Go value of type container.Config")
    check_fields(body, CONFIG_FIELDS, "Config")
    host = body.get("HostConfig") or {}
    check_fields(host, HOST_CONFIG_FIELDS, "HostConfig")
    if isinstance(host.get("RestartPolicy"), dict):
        check_fields(host["RestartPolicy"], RESTART_POLICY_FIELDS, "RestartPolicy")
    for ulimit in host.get("Ulimits") or []:
        if not isinstance(ulimit, dict):
            raise _fail(ulimit, "HostConfig.Ulimits", "units.Ulimit")
        check_fields(ulimit, ULIMIT_FIELDS, "Ulimit")
    if isinstance(body.get("Healthcheck"), dict):
        check_fields(body["Healthcheck"], HEALTHCHECK_FIELDS, "HealthConfig")
    return body


def as_int(value: Any) -> int:
    return int(value or 0)


def strslice(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return list(value)
