"""The one place that decides who may see and do what on an endpoint.

Roles, lowest to highest: none < readonly < operator < standard < admin.
  - readonly: sees the resources they may see (lists, pages, logs, stats); changes nothing.
  - operator: also starts, stops, restarts, pauses, kills and opens terminals on them.
  - standard: also creates resources (owned by them) and changes or removes what they own.
  - admin: everything on the endpoint, every resource.
Global administrators (is_staff/is_superuser) are admin everywhere.

Every action has a minimum role (ACTIONS; an unknown action is administrators only).
An action on a resource also needs the resource to be visible to the user: owned by
them, by one of their teams, or public. A resource the console has no ownership row
for belongs to administrators only — except images, which everyone with access may
see and use (changing an image without a row stays with administrators).

`check_container_config` enforces the endpoint's security settings on every create or
change of a container, raising PolicyViolation with a message a person can act on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from django.db.models import Q

from console.accounts.models import (ADMIN, NONE, OPERATOR, OWNER_PUBLIC, OWNER_TEAM, OWNER_USER, READONLY, STANDARD,
                                     EndpointRole, EndpointSecurity, ResourceControl, Team)

T = TypeVar("T")

RANK = {NONE: 0, READONLY: 1, OPERATOR: 2, STANDARD: 3, ADMIN: 4}
KINDS = ("container", "stack", "volume", "network", "image")
NAMED_KINDS = ("volume", "stack")  # rows keyed by name (a stack's compose project name), matched exactly

_OPERATE = ("start", "stop", "restart", "kill", "pause", "unpause", "resume", "exec")
ACTIONS: dict[str, str] = {
    "endpoint.view": READONLY,
    **{f"{kind}.view": READONLY for kind in (*KINDS, "event", "job")},
    "container.logs": READONLY, "container.stats": READONLY, "container.inspect": READONLY,
    **{f"container.{verb}": OPERATOR for verb in _OPERATE},
    "stack.logs": READONLY, "stack.start": OPERATOR, "stack.stop": OPERATOR, "stack.restart": OPERATOR,
    **{f"container.{verb}": STANDARD for verb in ("create", "remove", "edit", "duplicate", "rename")},
    **{f"image.{verb}": STANDARD for verb in ("pull", "build", "load", "tag", "push", "remove", "export")},
    **{f"volume.{verb}": STANDARD for verb in ("create", "remove", "files", "export", "import")},
    **{f"network.{verb}": STANDARD for verb in ("create", "remove", "connect", "disconnect")},
    **{f"stack.{verb}": STANDARD for verb in ("deploy", "update", "remove")},
    "job.cancel": STANDARD,
    # Endpoint-wide changes stay with the endpoint's administrators.
    **{f"{kind}.prune": ADMIN for kind in ("image", "volume", "network", "container")},
    "endpoint.manage": ADMIN,
    "stack.adopt": ADMIN,  # a limited project (made outside the console) is for administrators until adopted
}


class PolicyViolation(Exception):
    """A request the endpoint's security settings forbid; `message` says which setting and what to change."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def is_global_admin(user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active
                and (user.is_staff or user.is_superuser))


def required_role(action: str) -> str:
    """The lowest role that may perform `action`; administrators only for actions this module does not know."""
    return ACTIONS.get(action, ADMIN)


def team_ids(user: Any) -> list[int]:
    cached = getattr(user, "_berth_team_ids", None)
    if cached is None:
        cached = list(Team.objects.filter(members=user).values_list("pk", flat=True))
        user._berth_team_ids = cached
    return cached


def role_on(user: Any, endpoint: Any) -> str:
    """The user's role on `endpoint`: admin for global administrators, their own role, else their teams' highest."""
    if is_global_admin(user):
        return ADMIN
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active or endpoint is None:
        return NONE
    own = EndpointRole.objects.filter(endpoint=endpoint, user=user).values_list("role", flat=True).first()
    if own:
        return own
    roles = EndpointRole.objects.filter(endpoint=endpoint, team__in=team_ids(user)).values_list("role", flat=True)
    return max(roles, key=RANK.__getitem__, default=NONE)


def endpoints_for(user: Any, endpoints: Iterable[T]) -> list[T]:
    """The endpoints on which `user` has any access (role above none), in the given order."""
    return [e for e in endpoints if RANK[role_on(user, e)] > 0]


def _owned_filter(user: Any) -> Q:
    return (Q(ownership=OWNER_PUBLIC) | Q(ownership=OWNER_USER, owner_user=user)
            | Q(ownership=OWNER_TEAM, owner_team__in=team_ids(user)))


def control_for(endpoint: Any, kind: str, ident: str) -> ResourceControl | None:
    """The ownership row of resource `ident` (full ID, an ID prefix of 12+ characters, or its name)."""
    ident = ident.removeprefix("sha256:")
    match = Q(resource_id=ident) | Q(resource_id=f"sha256:{ident}") | Q(name=ident)
    if len(ident) >= 12 and kind not in NAMED_KINDS:  # a name is not an ID prefix ("web" must not find "web2")
        match |= Q(resource_id__startswith=ident) | Q(resource_id__startswith=f"sha256:{ident}")
    controls = list(ResourceControl.objects.filter(match, endpoint=endpoint, kind=kind))
    exact = [c for c in controls if c.resource_id.removeprefix("sha256:") == ident]
    by_id = [c for c in controls if c.resource_id.removeprefix("sha256:").startswith(ident)]
    return (exact or by_id or controls or [None])[0]


def may_see(user: Any, control: ResourceControl | None, kind: str) -> bool:
    """Whether a non-administrator may see a resource with this ownership row."""
    if control is None:
        return kind == "image"
    if control.ownership == OWNER_PUBLIC:
        return True
    if control.ownership == OWNER_USER:
        return control.owner_user_id == getattr(user, "pk", None)
    if control.ownership == OWNER_TEAM:
        return control.owner_team_id in team_ids(user)
    return False


def can(user: Any, endpoint: Any, action: str, resource: ResourceControl | str | None = None) -> bool:
    """May `user` perform `action` on `endpoint` (and, given `resource`, on that resource)?

    `resource` is a ResourceControl, or the resource's ID/name (its row is looked up by
    the action's kind, the part before the dot).
    """
    role = role_on(user, endpoint)
    needed = required_role(action)
    if RANK[role] < RANK[needed]:
        return False
    if resource is None or role == ADMIN:
        return True
    kind = action.split(".", 1)[0]
    control = control_for(endpoint, kind, resource) if isinstance(resource, str) else resource
    if control is None and kind == "image":
        return RANK[needed] <= RANK[OPERATOR]  # unowned images: used by all, changed by administrators
    return may_see(user, control, kind)


def visible(user: Any, endpoint: Any, kind: str, items: Iterable[T], key: Callable[[T], str]) -> list[T]:
    """The items (containers, volumes, …) `user` may see; `key(item)` is the item's full ID (a volume's name).

    Administrators on the endpoint see everything; others what they own, their teams own,
    or what is public (and unowned images).
    """
    items = list(items)
    role = role_on(user, endpoint)
    if role == ADMIN:
        return items
    if RANK[role] == 0:
        return []
    rows = ResourceControl.objects.filter(endpoint=endpoint, kind=kind)
    allowed = {c.resource_id.removeprefix("sha256:") for c in rows.filter(_owned_filter(user))}
    if kind != "image":
        return [item for item in items if key(item).removeprefix("sha256:") in allowed]
    known = {c.resource_id.removeprefix("sha256:") for c in rows}
    return [item for item in items if (k := key(item).removeprefix("sha256:")) in allowed or k not in known]


def security_of(endpoint: Any) -> EndpointSecurity:
    """The endpoint's security settings (the defaults, unsaved, when nobody has set them)."""
    found = EndpointSecurity.objects.filter(endpoint=endpoint).first()
    return found or EndpointSecurity(endpoint=endpoint)


def _bind_sources(host: dict[str, Any]) -> list[str]:
    """Host paths a HostConfig mounts: Binds entries whose source is a path, and Mounts of type bind."""
    sources = []
    for bind in host.get("Binds") or []:
        source = str(bind).split(":", 1)[0]
        if source.startswith("/") or source.startswith("."):
            sources.append(source)
    for mount in host.get("Mounts") or []:
        if str(mount.get("Type", "")).lower() == "bind":
            sources.append(str(mount.get("Source", "")))
        options = ((mount.get("VolumeOptions") or {}).get("DriverConfig") or {}).get("Options") or {}
        if _is_bind_option(options):
            sources.append(str(options.get("device", mount.get("Source", ""))))
    return sources


def _is_bind_option(options: dict[str, Any]) -> bool:
    """Local-driver volume options that mount a host path: o=bind (or an o list containing bind)."""
    return "bind" in [part.strip() for part in str(options.get("o", "")).split(",")]


def violations(security: EndpointSecurity, body: dict[str, Any]) -> list[str]:
    """Pure: what in a container create body (Engine API: Config + HostConfig) the settings forbid."""
    host = body.get("HostConfig") or {}
    found = []
    if security.forbid_bind_mounts and (sources := _bind_sources(host)):
        found.append(f"bind mounts of host paths ({', '.join(sources)})")
    if security.forbid_privileged and host.get("Privileged"):
        found.append("privileged mode")
    if security.forbid_host_namespaces:
        for key, label in (("NetworkMode", "network"), ("PidMode", "PID"), ("IpcMode", "IPC")):
            if str(host.get(key) or "") == "host":
                found.append(f"the host's {label} namespace")
    if security.forbid_cap_add and host.get("CapAdd"):
        found.append(f"added capabilities ({', '.join(map(str, host['CapAdd']))})")
    if security.forbid_devices and (host.get("Devices") or host.get("DeviceRequests")):
        found.append("host devices")
    if security.forbid_sysctls and host.get("Sysctls"):
        found.append("sysctls")
    if security.forbid_security_opt and host.get("SecurityOpt"):
        found.append("security options")
    return found


def _refuse(endpoint: Any, found: list[str]) -> None:
    if found:
        raise PolicyViolation(f"The security settings of endpoint {getattr(endpoint, 'name', endpoint)} do not allow "
                              f"{'; '.join(found)} for non-administrators. Ask an administrator.")


def check_container_config(user: Any, endpoint: Any, body: dict[str, Any]) -> None:
    """Raise PolicyViolation when `body` (a container create/update request) breaks the endpoint's security
    settings and `user` is not an administrator on the endpoint. Returns None when it is allowed."""
    if role_on(user, endpoint) == ADMIN:
        return
    _refuse(endpoint, violations(security_of(endpoint), body))


def check_exec(user: Any, endpoint: Any, privileged: bool) -> None:
    """Privileged exec is privileged mode: refused to non-administrators when the settings forbid it."""
    if privileged and role_on(user, endpoint) != ADMIN and security_of(endpoint).forbid_privileged:
        _refuse(endpoint, ["privileged exec"])


def check_volume_options(user: Any, endpoint: Any, driver: str, options: dict[str, Any]) -> None:
    """A local volume with o=bind is a bind mount of a host path."""
    if role_on(user, endpoint) == ADMIN or not security_of(endpoint).forbid_bind_mounts:
        return
    if driver in ("", "local") and _is_bind_option(options):
        _refuse(endpoint, [f"local volumes that bind a host path (device {options.get('device', '?')})"])


def build_violations(security: EndpointSecurity, network_mode: str, dockerfile: str) -> list[str]:
    """Pure: what a build (its network mode and the Dockerfile's RUN flags) asks that the settings forbid."""
    found = []
    text = dockerfile.lower()
    if security.forbid_host_namespaces and (network_mode == "host" or "--network=host" in text):
        found.append("builds on the host's network (RUN --network=host or network mode host)")
    if security.forbid_security_opt and "--security=insecure" in text:
        found.append("insecure RUN steps (RUN --security=insecure)")
    return found


def check_build(user: Any, endpoint: Any, network_mode: str, dockerfile: str) -> None:
    if role_on(user, endpoint) != ADMIN:
        _refuse(endpoint, build_violations(security_of(endpoint), network_mode or "", dockerfile or ""))


EVENT_KINDS = {"container": "container", "volume": "volume", "network": "network", "image": "image"}


def visible_events(user: Any, endpoint: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The engine events (Docker's event JSON) about resources `user` may see; all of them for administrators.
    Events of other types (daemon, plugin, …) are for administrators only."""
    if role_on(user, endpoint) == ADMIN:
        return events
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        kind = EVENT_KINDS.get(str(event.get("Type", "")))
        if kind:
            by_kind.setdefault(kind, []).append(event)
    allowed: set[int] = set()
    for kind, found in by_kind.items():
        allowed.update(id(e) for e in visible(user, endpoint, kind, found, key=_event_subject))
    return [e for e in events if id(e) in allowed]


def _event_subject(event: dict[str, Any]) -> str:
    """The ID an event is about (a volume's name; a network's ID; for container events on a network, the network)."""
    actor = event.get("Actor") or {}
    return str(actor.get("ID") or event.get("id") or "")


_acting: ContextVar[tuple[Any, Any, str] | None] = ContextVar("berth_policy_actor", default=None)


@contextmanager
def acting_as(user: Any, endpoint: Any, action: str = "stack.deploy") -> Iterator[None]:
    """Code run inside (a stack deploy job) creates containers for `user` on `endpoint`: `enforce_in_context`
    applies the endpoint's security settings to each. Contexts nest; leaving restores the outer one."""
    token = _acting.set((user, endpoint, action))
    try:
        yield
    finally:
        _acting.reset(token)


def enforce_in_context(body: dict[str, Any], target: str = "") -> None:
    """check_container_config for the user of the enclosing `acting_as` (nothing outside one); a refusal is
    audited as that context's action (DENIED) and raised as PolicyViolation."""
    actor = _acting.get()
    if actor is None:
        return
    user, endpoint, action = actor
    try:
        check_container_config(user, endpoint, body)
    except PolicyViolation as exc:
        from types import SimpleNamespace

        from console.audit.log import record
        from console.audit.models import Activity

        record(SimpleNamespace(user=user, META={}), action, target, Activity.DENIED, exc.message, endpoint)
        raise


def owner_in_context(kind: str, resource_id: str, name: str = "") -> None:
    """Inside `acting_as` (a stack deploy): the container, volume or network just made belongs to the deploying
    user (or to administrators when they are one), as what the console's forms make does. Nothing outside one."""
    actor = _acting.get()
    if actor is None:
        return
    from console.accounts.ownership import record_owner  # ownership imports this module

    user, endpoint, _action = actor
    record_owner(user, endpoint, kind, resource_id, name)
