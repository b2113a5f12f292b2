"""`docker update`: new resource limits and restart policy for an existing container.

`merge_update` is Docker's `Container.UpdateContainer` (pure): only the fields the
request sets (non-zero) change, NanoCpus cannot be mixed with a period/quota
already set, and a smaller memory limit needs its swap limit updated too.
`update_container` validates the result as create does, writes the new limits
into a running container's cgroup with `runc update`, and records them.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from typing import Any

from engine.api import schema
from engine.containers import resources
from engine.containers.create import restart_policy
from engine.containers.lifecycle import Lifecycle
from engine.containers.model import DEAD, PAUSED, REMOVING, RUNNING, Container
from engine.errors import Conflict, EngineError, InvalidArgument

NONZERO_FIELDS = ("BlkioWeight", "CpuShares", "NanoCpus", "CpuPeriod", "CpuQuota", "CpusetCpus", "CpusetMems",
                  "MemorySwap", "MemoryReservation", "KernelMemory", "CpuRealtimePeriod", "CpuRealtimeRuntime")


def merge_update(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """The host config after the update; Docker's conflicts raise Conflict (409)."""
    hc = copy.deepcopy(current)
    if update.get("NanoCpus") and (hc.get("CpuPeriod") or hc.get("CpuQuota")):
        which = "CPU Period" if hc.get("CpuPeriod") else "CPU Quota"
        raise Conflict(f"Conflicting options: Nano CPUs cannot be updated as {which} has already been set")
    for key, label in (("CpuPeriod", "CPU Period"), ("CpuQuota", "CPU Quota")):
        if update.get(key) and hc.get("NanoCpus"):
            raise Conflict(f"Conflicting options: {label} cannot be updated as NanoCPUs has already been set")
    memory = int(update.get("Memory") or 0)
    if memory:
        if memory > int(hc.get("MemorySwap") or 0) and not update.get("MemorySwap"):
            raise Conflict("Memory limit should be smaller than already set memoryswap limit, "
                           "update the memoryswap at the same time")
        hc["Memory"] = memory
    for key in NONZERO_FIELDS:
        if update.get(key):
            hc[key] = update[key]
    if update.get("PidsLimit") is not None:
        hc["PidsLimit"] = update["PidsLimit"]
    policy = update.get("RestartPolicy") or {}
    if policy.get("Name"):
        if hc.get("AutoRemove") and policy["Name"] != "no":
            raise Conflict("Restart policy cannot be updated because AutoRemove is enabled for the container")
        hc["RestartPolicy"] = policy
    return hc


def runc_resources(hc: dict[str, Any]) -> dict[str, Any]:
    """The `runc update --resources` document: the OCI resources without the device rules."""
    res = resources.oci_resources(hc, bool(hc.get("Privileged")))
    res.pop("devices", None)
    return res


async def update_container(lifecycle: Lifecycle, c: Container, body: Any) -> list[str]:
    """Apply an update request to `c`; returns Docker's warnings."""
    if not isinstance(body, dict):
        raise InvalidArgument("json: cannot unmarshal non-object into Go value of type container.UpdateConfig")
    schema.check_fields(body, schema.HOST_CONFIG_FIELDS, "UpdateConfig")
    if isinstance(body.get("RestartPolicy"), dict):
        schema.check_fields(body["RestartPolicy"], schema.RESTART_POLICY_FIELDS, "RestartPolicy")
    policy = body.get("RestartPolicy") or {}
    if policy.get("Name"):
        body = {**body, "RestartPolicy": restart_policy(policy)}
    async with lifecycle.registry.lock(c):
        if c.state.status in (REMOVING, DEAD):
            raise Conflict(f'Cannot update container {c.id}: container is marked for removal and cannot be "update"')
        try:
            hc = merge_update(c.host_config, body)
        except Conflict as exc:
            raise Conflict(f"Cannot update container {c.id}: {exc.message}") from None
        warnings = resources.normalize(hc, lifecycle.settings.host)
        if c.state.status in (RUNNING, PAUSED):
            await _apply_live(lifecycle, c, hc)
        c.host_config = hc
        lifecycle.registry.save(c)
    lifecycle.event(c, "update")
    return warnings


async def _apply_live(lifecycle: Lifecycle, c: Container, hc: dict[str, Any]) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(runc_resources(hc), f)
    try:
        await lifecycle.runtime.runc("update", "--resources", f.name, c.id)
    except EngineError as exc:
        raise type(exc)(f"Cannot update container {c.id}: {exc.message}") from None
    finally:
        os.unlink(f.name)
