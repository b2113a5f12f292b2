"""The authorisation matrix: every URL (pages and REST API) and every websocket route, as every role.

For each route the table below says the lowest role that may use it (per HTTP method where they differ):
"public" lets anonymous visitors in; then none (signed in, no role on the endpoint) < readonly < operator
< standard < endpoint_admin (the administrator role on the endpoint) < admin (global administrator).
The test checks, for every route:
  1. the view declares a rule (console/accounts/access.py: @requires, admin_required, signed_in, public, or a
     DRF view's required_action) — a route without one fails, saying what to add;
  2. the route is in the table, and the table agrees with the declared rule;
  3. real requests as each role: every role below the minimum is refused (401/403 or the login page) —
     for every method; every role at or above it gets through on GET (POSTs that would change things are
     checked only for refusal; the policy's unit tests cover what allowed changes do).
Websocket routes are connected to as each role the same way (refused = closed with 4403).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from console.accounts import access, policy
from tests.console.access_roles import RANK as ROLE_RANK
from tests.console.access_roles import ROLES, make_people, own
from tests.console.websockets import communicator, run

pytestmark = pytest.mark.django_db(transaction=False)

RANK = {"public": -1, **ROLE_RANK}
MIN_ROLE_OF = {policy.READONLY: "readonly", policy.OPERATOR: "operator", policy.STANDARD: "standard",
               policy.ADMIN: "endpoint_admin"}

R, O, S, E, A, N, P = "readonly", "operator", "standard", "endpoint_admin", "admin", "none", "public"

# route name → lowest role allowed (a dict by method where methods differ). Keep it in URL order.
EXPECTED: dict[str, str | dict[str, str]] = {
    "home": N, "endpoint-list": A, "endpoint-add": A, "endpoint-switch": N, "dashboard": R, "dashboard-stats": R,
    "endpoint-row": A, "endpoint-edit": A, "endpoint-delete": A, "overview": A, "overview-card": A,
    "endpoint-environment-add": A, "endpoint-environment-edit": A, "endpoint-environment-delete": A,
    "endpoint-move": A, "endpoint-add-berth": A, "endpoint-berth-setup": A,
    "containers:list": R, "containers:rows": R, "containers:bulk": R, "containers:prune": E, "containers:create": S,
    "containers:duplicate": S, "containers:edit": S, "containers:detail": R, "containers:detail-parts": R,
    "containers:detail-changes": R, "containers:detail-rename": S, "containers:detail-action": O,  # action=stop
    "images:list": R, "images:rows": R, "images:check-updates": S, "images:pull": S, "images:build": S,
    "images:load": S, "images:prune": E, "images:detail": R, "images:tag": S, "images:push": S, "images:remove": S, "images:export": S,
    "jobs:list": N, "jobs:rows": N, "jobs:detail": N, "jobs:cancel": N,
    "registries:list": A, "registries:add": A, "registries:edit": A, "registries:delete": A, "registries:test": A,
    "networks:list": R, "networks:create": S, "networks:prune": E, "networks:detail": R, "networks:connect": S,
    "networks:disconnect": S, "networks:remove": S,
    "volumes:list": R, "volumes:sizes": R, "volumes:create": S, "volumes:prune": E, "volumes:import": S,
    "volumes:detail": R, "volumes:remove": S, "volumes:files": S, "volumes:download": S, "volumes:export": S, "volumes:export-download": S,
    "stacks:list": R, "stacks:create": S, "stacks:templates": S, "stacks:template": S, "stacks:adopt": E,
    "stacks:detail": R, "stacks:services": R, "stacks:edit": S, "stacks:action": O,  # action=stop
    "events:page": R,
    "notifications:list": A, "notifications:deliveries": A, "notifications:create": A, "notifications:edit": A,
    "notifications:delete": A, "notifications:test": A,
    "api-schema": A, "api-docs": A,
    "api-endpoint-list": A, "api-endpoint-test": A, "api-endpoint-detail": A, "api-endpoint-status": A,
    "api-environment-list": A, "api-environment-detail": A,
    "api-tokens": N, "api-token-detail": N,
    "api-containers": {"GET": R, "POST": S}, "api-container": {"GET": R, "DELETE": S}, "api-container-spec": R,
    "api-container-logs": R, "api-container-stats-history": R, "api-container-rename": S,
    "api-container-changes": R, "api-container-action": O,  # action=stop
    "api-images": R, "api-images-pull": A, "api-images-build": A, "api-images-load": A, "api-images-updates": A,
    "api-image-history": A, "api-image-tag": A, "api-image-push": A, "api-image-export": A, "api-image": {"GET": R, "DELETE": A},
    "api-jobs": A, "api-job": A, "api-job-cancel": A,
    "api-registries": A, "api-registry": A, "api-registry-test": A,
    "api-networks": {"GET": R, "POST": S}, "api-networks-prune": A, "api-network": {"GET": R, "DELETE": S}, "api-network-connect": A, "api-network-disconnect": A,
    "api-volumes": {"GET": R, "POST": S}, "api-volume": {"GET": R, "DELETE": S, "POST": A}, "api-volume-files": A, "api-volume-download": A, "api-volume-export": A,
    "api-volume-import": A, "api-volume-export-file": A, "api-events": R,
    "api-notification-rules": A, "api-notification-rule": A, "api-notification-rule-test": A,
    "api-notifications-sent": A,
    "api-stacks": {"GET": R, "POST": S}, "api-stacks-validate": S, "api-stack": {"GET": R, "PUT": S, "DELETE": S},
    "api-stack-action": O,  # action=stop
    "activity": A, "activity-export": A,
    "login": P, "login-code": P, "logout": P,
    "account": N, "api-token": N, "account-2fa": N, "account-password": N,
    "user-list": A, "user-edit": A, "team-list": N, "team-detail": N, "team-member-remove": N, "team-delete": A,
    "access-roles": E, "access-role-remove": E, "access-security": E, "resource-ownership": E,
    "healthz-live": P, "healthz-ready": P, "metrics": A,
}
# Websocket routes → lowest role (the consumer's access_action).
WS_EXPECTED = {"ws-endpoint-events": R, "ws-container-logs": R, "ws-container-stats": R, "ws-container-exec": O,
               "ws-jobs": N, "ws-job": N, "ws-stack-logs": R}
DRF_METHODS = ("get", "post", "put", "patch", "delete")


def walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str, Any]]:
    for p in patterns:
        if isinstance(p, URLResolver):
            inner = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from walk(p.url_patterns, prefix + str(p.pattern), inner)
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), f"{namespace}{p.name}" if p.name else "", p.callback


def routes() -> list[tuple[str, str, Any]]:
    """Every route but Django's admin site (its own staff check: see test_the_django_admin_is_for_administrators)."""
    return [r for r in walk(get_resolver().url_patterns) if not r[0].startswith("admin/")]


def methods_of(callback: Any) -> list[str]:
    cls = getattr(callback, "cls", None)
    if cls is None:
        return ["GET", "POST"]
    actions = getattr(callback, "actions", None)
    names = actions.keys() if actions else [m for m in DRF_METHODS if hasattr(cls, m)]
    return [m.upper() for m in names]


class _ViewStub:
    def __init__(self, cls: Any, kwargs: dict[str, Any]) -> None:
        self.required_action = getattr(cls, "required_action", "")
        self.kwargs = kwargs


def declared(callback: Any, method: str, kwargs: dict[str, Any]) -> str | None:
    """The lowest role the view's own rule admits for `method`, or None when it declares none."""
    rule = getattr(callback, "access_rule", None)
    cls = getattr(callback, "cls", None)
    if rule is not None:
        if rule.kind == access.ACTION:
            return MIN_ROLE_OF[policy.required_role(rule.action_for(kwargs))]
        return {access.PUBLIC: P, access.SIGNED_IN: N, access.ADMIN_ONLY: A}[rule.kind]
    if cls is None:
        return None
    perms = getattr(callback, "initkwargs", {}).get("permission_classes", cls.permission_classes)
    if access.IsConsoleAdmin in perms:
        return A
    if access.PolicyPermission not in perms:
        return None
    wanted = access.drf_action(_ViewStub(cls, kwargs), method)
    if not wanted:
        return A
    return N if wanted == access.SIGNED_IN else MIN_ROLE_OF[policy.required_role(wanted)]


def expected(name: str, method: str) -> str:
    entry = EXPECTED[name]
    return entry if isinstance(entry, str) else entry[method]


@pytest.fixture
def world(endpoint, run_busybox, engine):  # type: ignore[no-untyped-def]
    """The endpoint, its people, and one container / image / volume / network owned by their team."""
    people, team = make_people(endpoint)
    cid = run_busybox("sleep", "300")
    image_id = engine.docker("image", "inspect", "-f", "{{.Id}}", "busybox").stdout.strip()
    volume = f"matrix-{secrets.token_hex(3)}"
    network = f"matrix-{secrets.token_hex(3)}"
    engine.docker("volume", "create", volume)
    nid = engine.docker("network", "create", network).stdout.strip()
    for kind, ident, name in (("container", cid, "c"), ("image", image_id, "busybox"), ("volume", volume, volume),
                              ("network", nid, network)):
        own(endpoint, team, kind, ident, name)
    samples = {"eid": endpoint.pk, "pk": endpoint.pk, "cid": cid[:12], "action": "stop", "image_id": image_id[7:19],
               "image": "busybox", "nid": nid[:12], "net": nid[:12], "name": volume, "rid": 999999, "job_id": 999999,
               "uid": people["none"].pk, "tid": team.pk, "token_id": 999999, "env_id": 999999, "sid": 999999,
               "index": 0}
    yield {"people": people, "samples": samples}
    engine.docker("network", "rm", network)
    engine.docker("volume", "rm", "-f", volume)


def url_for(name: str, route: str, samples: dict[str, Any]) -> str:
    wanted = {k: v for k, v in samples.items() if f"<{k}>" in route or f":{k}>" in route or f"(?P<{k}>" in route}
    return reverse(name, kwargs=wanted) if name else route


def refused(response: Any, public: bool = False) -> bool:
    """401/403, or the login page (for a public route, e.g. the code step without a password first, that is
    where it sends everyone). 405: the route does not take this method at all, which refuses as well."""
    if response.status_code in (401, 403, 405):
        return True
    return not public and response.status_code == 302 and "/login/" in response.get("Location", "")


def test_every_route_has_a_rule_and_a_row_in_the_table(world) -> None:  # type: ignore[no-untyped-def]
    problems = []
    samples = world["samples"]
    for route, name, callback in routes():
        if not name:
            problems.append(f"/{route} has no URL name: name it, give its view a rule, add it to EXPECTED")
            continue
        for method in methods_of(callback):
            rule = declared(callback, method, samples)
            if rule is None:
                problems.append(f"{name} (/{route}) {method} has no access rule: decorate the view with "
                                f"@requires(\"<kind>.<verb>\") / admin_required / signed_in / public, or give the DRF "
                                f"view a required_action (console/accounts/access.py)")
            elif name not in EXPECTED:
                problems.append(f"{name} (/{route}) is not in EXPECTED: add {name!r}: {rule!r} to "
                                f"tests/console/test_authorization_matrix.py if that is who should use it")
            elif expected(name, method) != rule:
                problems.append(f"{name} {method}: the view admits {rule}, the table says {expected(name, method)}")
    stale = set(EXPECTED) - {name for _, name, _ in routes()}
    problems += [f"EXPECTED has {name!r}, which is no longer a route: remove it" for name in sorted(stale)]
    assert not problems, "\n".join(dict.fromkeys(problems))  # one line per problem, in URL order


def _client(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def test_each_role_gets_exactly_what_the_table_gives_it(world) -> None:  # type: ignore[no-untyped-def]
    people, samples = world["people"], world["samples"]
    clients = {role: _client(people[role]) for role in ROLES}
    wrong = []
    for route, name, callback in routes():
        if name not in EXPECTED:
            continue  # reported by the test above
        url = url_for(name, route, samples)
        for method in methods_of(callback):
            lowest = expected(name, method)
            for role in ROLES:
                allowed = RANK[role] >= RANK[lowest]
                if allowed and method != "GET":
                    continue
                response = getattr(clients[role], method.lower())(url)
                no = refused(response, public=lowest == P)
                if allowed and no and response.status_code == 405:
                    continue  # a GET-less route (POST only): allowed roles are checked by the declared rule
                if allowed == no:
                    wrong.append(f"{method} {url} as {role}: {response.status_code} "
                                 f"({'refused' if no else 'let in'}; table: from {lowest})")
    assert not wrong, "\n".join(wrong)


def test_the_django_admin_is_for_administrators(world) -> None:  # type: ignore[no-untyped-def]
    people = world["people"]
    for role in ROLES:
        response = _client(people[role]).get("/admin/audit/activity/")
        assert (response.status_code == 200) == (role == "admin"), (role, response.status_code)


def ws_routes() -> list[tuple[str, str, Any]]:
    from console.asgi import websocket_urlpatterns

    return [(str(p.pattern), p.name, p.callback) for p in websocket_urlpatterns]


def test_every_websocket_route_has_a_rule_and_a_row(world) -> None:  # type: ignore[no-untyped-def]
    problems = []
    for route, name, app in ws_routes():
        consumer = getattr(app, "consumer_class", None)
        action = getattr(consumer, "access_action", None)
        if action is None:
            problems.append(f"websocket {name} (/{route}): its consumer has no access_action (\"\" for administrators "
                            f"only, \"signed_in\", or a policy action) and no check in connect()")
        elif name not in WS_EXPECTED:
            problems.append(f"websocket {name} is not in WS_EXPECTED: add it")
        else:
            rule = A if action == "" else N if action == "signed_in" else MIN_ROLE_OF[policy.required_role(action)]
            if rule != WS_EXPECTED[name]:
                problems.append(f"websocket {name}: the consumer admits {rule}, the table says {WS_EXPECTED[name]}")
    assert not problems, "\n".join(problems)


async def _outcome(comm: Any) -> str:
    """ "refused" when the consumer closes with 4403 right after the handshake, else "let in"."""
    connected, _ = await comm.connect(timeout=10)
    if not connected:
        return "refused"
    try:
        out = await comm.receive_output(1.5)
    except TimeoutError:
        out = {"type": "websocket.send"}  # quiet and open: let in
    if out["type"] == "websocket.close":
        return "refused" if out.get("code") == 4403 else "let in"
    with contextlib.suppress(BaseException):  # the consumer may have finished on its own meanwhile
        await comm.disconnect(timeout=5)
    return "let in"


def test_websockets_admit_exactly_the_roles_in_the_table(world) -> None:  # type: ignore[no-untyped-def]
    people, samples = world["people"], world["samples"]
    wrong = []
    for route, name, _app in ws_routes():
        path = "/" + route
        for key, value in samples.items():
            path = path.replace(f"<int:{key}>", str(value)).replace(f"<str:{key}>", str(value))
        for role in ROLES:
            allowed = RANK[role] >= RANK[WS_EXPECTED[name]]
            comm = communicator(path, people[role])
            got = run(lambda comm=comm: _outcome(comm))
            if (got == "let in") != allowed:
                wrong.append(f"{path} as {role}: {got} (table: from {WS_EXPECTED[name]})")
    assert not wrong, "\n".join(wrong)
