"""Users in every role on one endpoint, for the access tests (matrix, policy, multi-user pages).

`make_people(endpoint)` returns {role: user} for ROLES (anonymous is None): "none" is signed in with no
role; readonly/operator/standard/endpoint_admin have that role on `endpoint` directly; "admin" is a global
administrator. Everyone but the admin is in the team returned alongside, which owns what the tests share.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from console.accounts.models import ADMIN, OPERATOR, OWNER_TEAM, READONLY, STANDARD, EndpointRole, ResourceControl, Team

ROLES = ("anonymous", "none", "readonly", "operator", "standard", "endpoint_admin", "admin")
RANK = {role: i for i, role in enumerate(ROLES)}
ENDPOINT_ROLES = {"readonly": READONLY, "operator": OPERATOR, "standard": STANDARD, "endpoint_admin": ADMIN}
PASSWORD = "a-long-test-password-9"


def make_people(endpoint: Any) -> tuple[dict[str, Any], Team]:
    users = get_user_model().objects
    team = Team.objects.create(name=f"crew-{endpoint.pk}")
    people: dict[str, Any] = {"anonymous": None}
    for role in ROLES[1:-1]:
        user = users.create_user(f"{role}-{endpoint.pk}", password=PASSWORD)
        team.members.add(user)
        if role in ENDPOINT_ROLES:
            EndpointRole.objects.create(endpoint=endpoint, user=user, role=ENDPOINT_ROLES[role])
        people[role] = user
    people["admin"] = users.create_superuser(f"admin-{endpoint.pk}", password=PASSWORD)
    return people, team


def own(endpoint: Any, team: Team, kind: str, resource_id: str, name: str = "") -> ResourceControl:
    """Give a resource to `team`."""
    return ResourceControl.objects.create(endpoint=endpoint, kind=kind, resource_id=resource_id, name=name,
                                          ownership=OWNER_TEAM, owner_team=team)
