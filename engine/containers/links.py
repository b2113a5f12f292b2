"""Legacy links on the default bridge (`docker run --link name:alias`), as Docker keeps them (pure).

A link is recorded in the parent's HostConfig.Links as `/child:/parent/alias`.
When the parent starts, each linked (child) container must be running on the
default bridge; the parent gets Docker's link variables (`ALIAS_NAME`,
`ALIAS_PORT_80_TCP_ADDR`, `ALIAS_ENV_X`, ...) and an /etc/hosts line naming the
child by its alias, hostname and name. On a user-defined network links are
endpoint aliases instead (engine.network.sandboxes), not handled here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from engine.errors import Conflict, InvalidArgument


@dataclass(frozen=True)
class Link:
    child: str  # the linked container's name, without "/"
    alias: str  # the name the parent knows it by

    def record(self, parent: str) -> str:
        return f"/{self.child}:/{parent}/{self.alias}"


def parse(spec: str) -> Link:
    """`name:alias`, `name`, or the recorded `/name:/parent/alias`."""
    name, _, alias = spec.partition(":")
    name = name.strip("/")
    alias = alias.rsplit("/", 1)[-1] if alias else name
    if not name or not alias:
        raise InvalidArgument(f"invalid link: {spec!r}")
    return Link(name, alias)


def records(parent: str, specs: list[str] | None) -> list[str] | None:
    """HostConfig.Links as Docker shows them; None when there are none."""
    return [parse(spec).record(parent) for spec in specs] if specs else None


def _port_sort_key(port: str) -> tuple[int, int]:
    number, _, proto = port.partition("/")
    return int(number), 0 if (proto or "tcp") == "tcp" else 1


def link_env(link: Link, parent: str, child_ip: str, exposed: list[str], child_env: list[str]) -> list[str]:
    """Docker's `links.Link.ToEnv` for one link."""
    prefix = link.alias.upper().replace("-", "_")
    ports = sorted(exposed, key=_port_sort_key)
    env: list[str] = []
    if ports:
        number, _, proto = ports[0].partition("/")
        env.append(f"{prefix}_PORT={proto or 'tcp'}://{child_ip}:{number}")
    env += _range_env(prefix, child_ip, ports)
    for port in ports:
        number, _, proto = port.partition("/")
        proto = proto or "tcp"
        key = f"{prefix}_PORT_{number}_{proto.upper()}"
        env += [f"{key}={proto}://{child_ip}:{number}", f"{key}_ADDR={child_ip}", f"{key}_PORT={number}",
                f"{key}_PROTO={proto}"]
    env.append(f"{prefix}_NAME=/{parent}/{link.alias}")
    for item in child_env:
        key, eq, value = item.partition("=")
        if eq and key not in ("HOME", "PATH"):
            env.append(f"{prefix}_ENV_{key}={value}")
    return env


def _next_contiguous(numbers: list[int], value: int, index: int) -> int:
    """moby's nextContiguous, literally (duplicates of a number count as the next one)."""
    if index + 1 == len(numbers):
        return index
    for i in range(index + 1, len(numbers)):
        if numbers[i] > value + 1:
            return i - 1
        value += 1
    return len(numbers) - 1


def _range_env(prefix: str, ip: str, ports: list[str]) -> list[str]:
    """The _START/_END variables Docker adds for runs of three or more contiguous exposed ports."""
    numbers = [_port_sort_key(p)[0] for p in ports]
    env: list[str] = []
    i = 0
    while i < len(ports):
        j = _next_contiguous(numbers, numbers[i], i)
        if j > i + 1:
            first, _, proto = ports[i].partition("/")
            last, _, last_proto = ports[j].partition("/")
            proto, last_proto = proto or "tcp", last_proto or "tcp"
            key = f"{prefix}_PORT_{first}_{proto.upper()}"
            env += [f"{key}_START={proto}://{ip}:{first}", f"{key}_ADDR={ip}", f"{key}_PROTO={proto}",
                    f"{key}_PORT_START={first}",
                    f"{prefix}_PORT_{first}_{last_proto.upper()}_END={last_proto}://{ip}:{last}",
                    f"{prefix}_PORT_{first}_{last_proto.upper()}_PORT_END={last}"]
            i = j + 1
        else:
            i += 1
    return env


def hosts_names(link: Link, child_hostname: str) -> str:
    """The names an /etc/hosts line gives the child: alias, hostname, and its name unless that is the alias."""
    names = f"{link.alias} {child_hostname}"
    return names if link.alias == link.child else f"{names} {link.child}"


class ContainerLike(Protocol):
    id: str
    name: str
    config: dict[str, Any]
    host_config: dict[str, Any]
    networks: dict[str, Any]
    state: Any  # .running: the container runs (or is paused or restarting)


def legacy(host_config: dict[str, Any]) -> bool:
    """Links are legacy links (env, hosts) only on the default bridge."""
    return (host_config.get("NetworkMode") or "default") in ("default", "bridge")


def check_children(specs: list[str] | None, find: Callable[[str], ContainerLike | None]) -> None:
    """At create, as Docker's registerLinks: every linked container exists and is not on the host network."""
    for spec in specs or []:
        link = parse(spec)
        child = find(link.child)
        if child is None:
            raise InvalidArgument(f"could not get container for {link.child}: No such container: {link.child}")
        if child.host_config.get("NetworkMode") == "host":
            raise InvalidArgument("conflicting options: host type networking can't be used with links. "
                                  "This would result in undefined behavior")


def at_start(parent: ContainerLike, find: Callable[[str], ContainerLike | None]) -> tuple[list[str], list[tuple[str, str]]]:
    """The link variables and /etc/hosts entries (names, address) for a parent starting on the default bridge."""
    if not legacy(parent.host_config) or "bridge" not in parent.networks:
        return [], []
    env: list[str] = []
    hosts: list[tuple[str, str]] = []
    for spec in parent.host_config.get("Links") or []:
        link = parse(spec)
        child = find(link.child)
        if child is None or not child.state.running:
            raise Conflict(f"Cannot link to a non running container: /{link.child} AS /{parent.name}/{link.alias}")
        ip = (child.networks.get("bridge") or {}).get("IPAddress") or ""
        if not ip:
            raise Conflict(f"container {child.id} not attached to default bridge network")
        env += link_env(link, parent.name, ip, list(child.config.get("ExposedPorts") or {}), child.config.get("Env") or [])
        hosts.append((hosts_names(link, child.config.get("Hostname") or child.id[:12]), ip))
    return env, hosts
