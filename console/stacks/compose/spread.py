"""A project spread over several engines: each service converges on its own endpoint's engine.

    Engines(clients, where, overlays)    which engine (by endpoint name) runs each service, and which of the
                                         project's networks join services on several engines
    part(project, where, key, overlays)  pure: one engine's share of the project
    up / stop / start / down             the effects, over every engine at once

`up` is console/stacks/compose/apply.py's `up` (a single engine is the special case of one key): overlay
networks first (each involved engine must report a cluster store, the same one; the network is made on the
first and awaited on the others, since an overlay network is global), then per engine its networks,
volumes and images — only those its services use — and its plan; then the services in dependency order,
each on its engine, each waiting for its dependencies' conditions on *their* engines; orphans last (a
service that moved away leaves an orphan behind on its old engine). Project name and labels are the
same everywhere. `down` removes containers on every engine before any network, overlay networks last.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import docker
import docker.errors

from console.stacks.compose import images, plan as planning
from console.stacks.compose.apply import (
    STOP_TIMEOUT, ApplyError, Hooks, Reporter, _api_error, _call, _converge, ensure_networks, ensure_volumes,
    project_containers, remove_container, wait_for,
)
from console.stacks.compose.model import NETWORK_LABEL, PROJECT_LABEL, SERVICE_LABEL, VOLUME_LABEL, Network, Project
from console.stacks.compose.spec import config_hash

OVERLAY = "overlay"
OVERLAY_WAIT = 60.0  # seconds an overlay network made on one engine may take to show on the others


@dataclass(frozen=True)
class Engines:
    """`clients`: endpoint name → client (every engine the project is on, or was on); `where`: service →
    endpoint name; `overlays`: network key → the endpoint names whose services share it (two or more)."""

    clients: Mapping[str, docker.DockerClient]
    where: Mapping[str, str]
    overlays: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @classmethod
    def single(cls, client: docker.DockerClient, project: Project) -> Engines:
        return cls({"": client}, {s.name: "" for s in project.services})

    def api(self, key: str) -> docker.APIClient:
        return self.clients[key].api


def overlay_network(net: Network) -> Network:
    """`net` as it must be when it joins services on several engines (external networks are left as declared)."""
    return net if net.external else replace(net, driver=OVERLAY, attachable=True)


def part(project: Project, where: Mapping[str, str], key: str, overlays: Mapping[str, Sequence[str]]) -> Project:
    """The share of `project` engine `key` runs: its services, and only the networks and volumes they use."""
    services = tuple(s for s in project.services if where.get(s.name) == key)
    nets = {n.name for s in services for n in s.networks}
    vols = {m.source for s in services for m in s.mounts if m.kind == "volume"}
    networks = tuple(overlay_network(n) if n.key in overlays else n for n in project.networks if n.key in nets)
    return replace(project, services=services, networks=networks,
                   volumes=tuple(v for v in project.volumes if v.key in vols))


# -- overlay networks ----------------------------------------------------------------------------------

def _where(key: str) -> str:
    return f"endpoint {key}" if key else "the endpoint"


def check_cluster_stores(engines: Engines) -> None:
    """Every engine an overlay network spans has a cluster store, and it is the same; ApplyError says which not."""
    stores: dict[str, str] = {}
    for net_key, keys in engines.overlays.items():
        for key in keys:
            if key not in stores:
                stores[key] = str(engines.api(key).info().get("ClusterStore") or "")
            if not stores[key]:
                raise ApplyError(f"network {net_key} joins services on {', '.join(keys)}, so it must be an overlay "
                                 f"network, and {_where(key)}'s engine has no cluster store (start it with "
                                 "--cluster-store etcd://… and --cluster-advertise)")
    if len(set(stores.values())) > 1:
        seen = ", ".join(f"{k}: {v}" for k, v in sorted(stores.items()))
        raise ApplyError(f"an overlay network needs one cluster store shared by its engines, and these differ ({seen})")


def _network_driver(api: docker.APIClient, name: str) -> str | None:
    found = [n for n in api.networks(names=[name]) if n.get("Name") == name]
    return str(found[0].get("Driver") or "") if found else None


def ensure_overlays(engines: Engines, parts: Mapping[str, Project], report: Reporter) -> None:
    """Each overlay network made once (on its first engine) and seen on every engine of its services."""
    check_cluster_stores(engines)
    for net_key, keys in engines.overlays.items():
        net = parts[keys[0]].network(net_key)
        for key in keys:
            driver = _network_driver(engines.api(key), net.name)
            if driver not in (None, OVERLAY):
                raise ApplyError(f"network {net.name} on {_where(key)} is a {driver} network, but services on "
                                 f"{', '.join(keys)} share it, so it must be an overlay network: remove the stack "
                                 "(or that network) and deploy again")
        ensure_networks(engines.api(keys[0]), replace(parts[keys[0]], networks=(net,)), report)
        for key in keys[1:]:
            _await_network(engines.api(key), net.name, key)


def _await_network(api: docker.APIClient, name: str, key: str) -> None:
    deadline = time.monotonic() + OVERLAY_WAIT
    while _network_driver(api, name) is None:
        if time.monotonic() > deadline:
            raise ApplyError(f"overlay network {name} did not show on {_where(key)} within {int(OVERLAY_WAIT)} s: "
                             "do the engines share one cluster store?")
        time.sleep(0.5)


# -- up ------------------------------------------------------------------------------------------------

def _prepare(engines: Engines, key: str, share: Project, report: Reporter,
             hooks: Hooks) -> tuple[planning.Plan, dict[str, str]]:
    """One engine's networks, volumes and images; its plan and the image IDs of its services."""
    api = engines.api(key)
    with hooks.acting_on(key):
        ensure_networks(api, share, report)
        ensure_volumes(api, share, report)
    image_ids = images.ensure_images(api, share, report, hooks.pull_auth, hooks.build_dir)
    hashes = {s.name: config_hash(share, s, image_ids[s.name]) for s in share.services}
    existing = [planning.Existing.from_listing(r) for r in project_containers(api, share.name)]
    plan = planning.plan_up(share, existing, hashes)
    report.log(f"Plan{' on ' + key if len(engines.clients) > 1 else ''}: {plan.summary()}")
    return plan, image_ids


def up(engines: Engines, project: Project, report: Reporter, hooks: Hooks = Hooks()) -> planning.Plan:
    """Bring the project up on its engines (see the module doc); the plan carried out, all engines merged."""
    shares = {key: part(project, engines.where, key, engines.overlays) for key in engines.clients}
    merged, image_ids, plans = planning.Plan(), {}, {}
    try:
        report.status("Preparing networks and volumes", 0.05)
        ensure_overlays(engines, shares, report)
        for key, share in shares.items():
            plans[key], ids = _prepare(engines, key, share, report, hooks)
            image_ids.update(ids)
        ordered = project.order()
        for i, service in enumerate(ordered):
            report.check()
            key = engines.where[service.name]
            wait_for(lambda dep: engines.api(engines.where[dep]), project, service, report, hooks.wait_timeout)
            report.status(f"Service {service.name}", 0.4 + 0.55 * i / max(1, len(ordered)))
            with hooks.acting_on(key):
                _converge(engines.api(key), shares[key], service, plans[key].services[service.name],
                          image_ids[service.name], report)
            merged.services[service.name] = plans[key].services[service.name]
        for key, plan in plans.items():
            for orphan in plan.orphans:
                remove_container(engines.api(key), orphan, report, "Removing orphan")
            merged.orphans.extend(plan.orphans)
    except docker.errors.APIError as exc:
        raise _api_error(exc) from None
    report.status("Up", 1.0)
    return merged


# -- stop, start, down ---------------------------------------------------------------------------------

def _rows(clients: Sequence[docker.DockerClient], name: str) -> Iterator[tuple[docker.APIClient, dict[str, Any]]]:
    for client in clients:
        for row in project_containers(client.api, name):
            yield client.api, row


def _service(row: dict[str, Any]) -> str:
    return (row.get("Labels") or {}).get(SERVICE_LABEL, "")


def stop(clients: Sequence[docker.DockerClient], name: str, order: list[str], report: Reporter) -> int:
    """Stop the project's running containers on every engine, dependants first; how many stopped."""
    rank = {s: i for i, s in enumerate(order)}
    count = 0
    for api, row in sorted(_rows(clients, name), key=lambda ar: -rank.get(_service(ar[1]), -1)):
        if row.get("State") in ("running", "restarting", "paused"):
            report.log(f"Stopping {planning.Existing.from_listing(row).name}")
            _call(api.stop, row["Id"], timeout=STOP_TIMEOUT)
            count += 1
    return count


def start(clients: Sequence[docker.DockerClient], name: str, order: list[str], report: Reporter) -> int:
    """Start the project's stopped containers on every engine, dependencies first; how many started."""
    rank = {s: i for i, s in enumerate(order)}
    count = 0
    for api, row in sorted(_rows(clients, name), key=lambda ar: rank.get(_service(ar[1]), len(rank))):
        if row.get("State") != "running":
            report.log(f"Starting {planning.Existing.from_listing(row).name}")
            _call(api.start, row["Id"])
            count += 1
    return count


def down(clients: Sequence[docker.DockerClient], name: str, report: Reporter,
         remove_volumes: bool = False) -> dict[str, int]:
    """Remove the project's containers on every engine, then its networks (overlay ones last), then its
    volumes only when asked; counts of what was removed."""
    label = f"{PROJECT_LABEL}={name}"
    removed = {"containers": 0, "networks": 0, "volumes": 0}
    try:
        for client in clients:
            for row in client.api.containers(all=True, filters={"label": label}):
                remove_container(client.api, planning.Existing.from_listing(row), report, "Removing")
                removed["containers"] += 1
    except docker.errors.APIError as exc:
        raise _api_error(exc) from None
    gone: set[str] = set()  # an overlay network is one network on every engine: removed once
    for overlay in (False, True):
        for client in clients:
            for net in client.api.networks(filters={"label": label}):
                if (net.get("Labels") or {}).get(NETWORK_LABEL) is None or (net.get("Driver") == OVERLAY) != overlay \
                        or net["Id"] in gone:
                    continue
                report.log(f"Removing network {net['Name']}")
                _call(client.api.remove_network, net["Id"])
                gone.add(net["Id"])
                removed["networks"] += 1
    if remove_volumes:
        for client in clients:
            for vol in (client.api.volumes(filters={"label": label}) or {}).get("Volumes") or []:
                if (vol.get("Labels") or {}).get(VOLUME_LABEL) is not None:
                    report.log(f"Removing volume {vol['Name']}")
                    _call(client.api.remove_volume, vol["Name"])
                    removed["volumes"] += 1
    return removed
