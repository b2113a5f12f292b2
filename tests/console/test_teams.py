"""Users, teams, an endpoint's access and security pages, and resource ownership changes."""

from __future__ import annotations

import pytest
from django.test import Client

from console.accounts import policy
from console.accounts.models import OWNER_TEAM, EndpointRole, EndpointSecurity, ResourceControl, Team
from console.audit.models import Activity
from tests.console.access_roles import make_people

pytestmark = pytest.mark.django_db


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_leaders_manage_their_teams_members_and_others_cannot(django_user_model) -> None:  # type: ignore[no-untyped-def]
    users = django_user_model.objects
    lead, member, outsider, newbie = (users.create_user(n) for n in ("lead", "member", "outsider", "newbie"))
    team = Team.objects.create(name="web")
    team.members.add(lead, member)
    team.leaders.add(lead)
    assert _client(lead).post(f"/teams/{team.pk}/", {"user": newbie.pk, "leader": "on"}).status_code == 302
    assert set(team.members.values_list("username", flat=True)) == {"lead", "member", "newbie"}
    assert not team.leaders.filter(pk=newbie.pk).exists()  # only administrators name leaders
    assert _client(member).post(f"/teams/{team.pk}/", {"user": outsider.pk}).status_code == 403
    assert _client(outsider).get(f"/teams/{team.pk}/").status_code == 403
    assert _client(member).post(f"/teams/{team.pk}/members/{lead.pk}/remove/").status_code == 403
    assert _client(lead).post(f"/teams/{team.pk}/members/{member.pk}/remove/").status_code == 302
    assert not team.members.filter(pk=member.pk).exists()
    assert Activity.objects.filter(action="access.denied", outcome=Activity.DENIED).count() == 2
    assert Activity.objects.filter(action__startswith="team.member_").count() == 2
    assert _client(lead).post("/teams/", {"name": "mine"}).status_code == 403  # teams are made by administrators


def test_administrators_add_teams_users_and_roles(admin_client, endpoint, django_user_model) -> None:  # type: ignore[no-untyped-def]
    assert admin_client.post("/teams/", {"name": "ops"}).status_code == 302
    team = Team.objects.get(name="ops")
    ann = django_user_model.objects.create_user("ann")
    team.members.add(ann)
    page = admin_client.get(f"/endpoints/{endpoint.pk}/access/")
    assert page.status_code == 200 and "Team ops" in page.content.decode()
    assert admin_client.post(f"/endpoints/{endpoint.pk}/access/", {"subject": f"team:{team.pk}", "role": "operator"}).status_code == 302
    assert policy.role_on(django_user_model.objects.get(pk=ann.pk), endpoint) == "operator"
    role = EndpointRole.objects.get(endpoint=endpoint, team=team)
    assert admin_client.post(f"/endpoints/{endpoint.pk}/access/{role.pk}/remove/").status_code == 302
    assert policy.role_on(django_user_model.objects.get(pk=ann.pk), endpoint) == "none"
    assert Activity.objects.filter(action="endpoint.role", endpoint=endpoint.name).exists()


def test_an_administrator_cannot_lock_themselves_out(admin_client, admin_user) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.post(f"/users/{admin_user.pk}/", {"is_active": "on"})  # admin box unticked
    assert response.status_code == 400 and "your own administrator rights" in response.content.decode()
    admin_user.refresh_from_db()
    assert admin_user.is_superuser


def test_the_security_settings_page_saves_and_is_audited(endpoint) -> None:  # type: ignore[no-untyped-def]
    people, _ = make_people(endpoint)
    assert _client(people["standard"]).get(f"/endpoints/{endpoint.pk}/security/").status_code == 403
    owner = _client(people["endpoint_admin"])  # the endpoint's administrators set them
    page = owner.get(f"/endpoints/{endpoint.pk}/security/").content.decode()
    assert 'name="forbid_privileged"' in page and "checked" in page
    assert owner.post(f"/endpoints/{endpoint.pk}/security/", {"forbid_bind_mounts": "on"}).status_code == 302
    saved = EndpointSecurity.objects.get(endpoint=endpoint)
    assert saved.forbid_bind_mounts and not saved.forbid_privileged
    body = {"HostConfig": {"Privileged": True}}
    policy.check_container_config(people["standard"], endpoint, body)  # allowed now: no exception
    assert Activity.objects.filter(action="endpoint.security", outcome=Activity.SUCCESS).exists()


def test_administrators_change_a_resources_owner_from_its_page(admin_client, endpoint) -> None:  # type: ignore[no-untyped-def]
    people, team = make_people(endpoint)
    cid = "c" * 64
    assert not policy.can(people["operator"], endpoint, "container.restart", cid)
    response = admin_client.post(f"/endpoints/{endpoint.pk}/ownership/", {
        "kind": "container", "resource_id": cid, "name": "web", "ownership": "team", "owner_team": team.pk,
        "next": f"/endpoints/{endpoint.pk}/containers/{cid[:12]}/"})
    assert response.status_code == 302 and response["Location"].endswith(f"/containers/{cid[:12]}/")
    control = ResourceControl.objects.get(endpoint=endpoint, kind="container", resource_id=cid)
    assert control.ownership == OWNER_TEAM and control.owner_team == team
    assert policy.can(people["operator"], endpoint, "container.restart", cid[:12])
    assert Activity.objects.filter(action="container.ownership", target="web").exists()
    assert _client(people["standard"]).post(f"/endpoints/{endpoint.pk}/ownership/", {
        "kind": "container", "resource_id": cid, "ownership": "public"}).status_code == 403
    assert admin_client.post(f"/endpoints/{endpoint.pk}/ownership/", {
        "kind": "container", "resource_id": cid, "ownership": "team", "next": "https://evil.example/"}).status_code == 302
