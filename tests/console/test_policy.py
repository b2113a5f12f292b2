"""console/accounts/policy.py: roles, visibility, ownership, and the endpoint security settings.

Pure rules first (no database), then roles and ownership (database), then refusals of a non-administrator's
privileged container through the form, the REST API and a stack file — each audited.
"""

from __future__ import annotations

import secrets

import pytest
from rest_framework.test import APIClient

from console.accounts import policy
from console.accounts.models import (ADMIN, OPERATOR, OWNER_ADMINS, OWNER_PUBLIC, OWNER_USER, READONLY, STANDARD,
                                     EndpointRole, EndpointSecurity, ResourceControl, Team)
from console.audit.models import Activity
from tests.console.access_roles import make_people, own

ALL_FORBIDDEN = EndpointSecurity()


def body(**host: object) -> dict[str, object]:
    return {"Image": "busybox", "HostConfig": host}


@pytest.mark.parametrize("host, words", [
    ({"Binds": ["/etc:/host-etc:ro"]}, "bind mounts of host paths (/etc)"),
    ({"Mounts": [{"Type": "bind", "Source": "/var", "Target": "/v"}]}, "bind mounts of host paths (/var)"),
    ({"Mounts": [{"Type": "volume", "Source": "x", "Target": "/x", "VolumeOptions": {"DriverConfig": {
        "Name": "local", "Options": {"type": "none", "o": "bind", "device": "/srv"}}}}]}, "(/srv)"),
    ({"Privileged": True}, "privileged mode"),
    ({"NetworkMode": "host"}, "the host's network namespace"),
    ({"PidMode": "host"}, "the host's PID namespace"),
    ({"IpcMode": "host"}, "the host's IPC namespace"),
    ({"CapAdd": ["NET_ADMIN"]}, "added capabilities (NET_ADMIN)"),
    ({"Devices": [{"PathOnHost": "/dev/kvm"}]}, "host devices"),
    ({"Sysctls": {"net.ipv4.ip_forward": "1"}}, "sysctls"),
    ({"SecurityOpt": ["seccomp=unconfined"]}, "security options"),
])
def test_it_names_what_the_settings_forbid(host, words) -> None:  # type: ignore[no-untyped-def]
    found = policy.violations(ALL_FORBIDDEN, body(**host))
    assert found and words in found[0]
    allowing = EndpointSecurity(**{rule: False for rule in EndpointSecurity.RULES})
    assert policy.violations(allowing, body(**host)) == []


def test_ordinary_containers_break_no_rule() -> None:
    ordinary = body(Mounts=[{"Type": "volume", "Source": "data", "Target": "/data"}], NetworkMode="bridge",
                    Binds=["named:/data"], PortBindings={"80/tcp": [{"HostPort": "8080"}]})
    assert policy.violations(ALL_FORBIDDEN, ordinary) == []


def test_builds_asking_for_the_host_are_named() -> None:
    assert policy.build_violations(ALL_FORBIDDEN, "", "FROM busybox\nRUN --network=host wget x\n")
    assert policy.build_violations(ALL_FORBIDDEN, "", "FROM busybox\nRUN --security=insecure id\n")
    assert policy.build_violations(ALL_FORBIDDEN, "host", "FROM busybox\n")
    assert policy.build_violations(ALL_FORBIDDEN, "", "FROM busybox\nRUN echo hi\n") == []


def test_unknown_actions_are_for_administrators() -> None:
    assert policy.required_role("container.teleport") == ADMIN
    assert policy.required_role("container.restart") == OPERATOR
    assert policy.required_role("container.remove") == STANDARD
    assert policy.required_role("container.logs") == READONLY


@pytest.mark.django_db
def test_a_users_own_role_wins_over_their_teams(endpoint, django_user_model) -> None:  # type: ignore[no-untyped-def]
    ann = django_user_model.objects.create_user("ann")
    low, high = Team.objects.create(name="low"), Team.objects.create(name="high")
    low.members.add(ann)
    high.members.add(ann)
    assert policy.role_on(ann, endpoint) == "none"
    EndpointRole.objects.create(endpoint=endpoint, team=low, role=READONLY)
    EndpointRole.objects.create(endpoint=endpoint, team=high, role=STANDARD)
    ann = django_user_model.objects.get(pk=ann.pk)  # team ids are cached per user object
    assert policy.role_on(ann, endpoint) == STANDARD
    EndpointRole.objects.create(endpoint=endpoint, user=ann, role=OPERATOR)
    assert policy.role_on(ann, endpoint) == OPERATOR
    root = django_user_model.objects.create_superuser("root")
    assert policy.role_on(root, endpoint) == ADMIN
    ann.is_active = False
    assert policy.role_on(ann, endpoint) == "none"


@pytest.mark.django_db
def test_visibility_follows_ownership(endpoint) -> None:  # type: ignore[no-untyped-def]
    people, team = make_people(endpoint)
    standard, operator = people["standard"], people["operator"]
    ResourceControl.objects.create(endpoint=endpoint, kind="container", resource_id="a" * 64, ownership=OWNER_USER,
                                   owner_user=standard)
    own(endpoint, team, "container", "b" * 64)
    ResourceControl.objects.create(endpoint=endpoint, kind="container", resource_id="c" * 64, ownership=OWNER_PUBLIC)
    ResourceControl.objects.create(endpoint=endpoint, kind="container", resource_id="d" * 64, ownership=OWNER_ADMINS)
    ids = [ch * 64 for ch in "abcde"]  # e: not made by the console → administrators only

    def seen(user: object) -> str:
        return "".join(i[0] for i in policy.visible(user, endpoint, "container", ids, key=lambda i: i))

    assert seen(standard) == "abc"
    assert seen(operator) == "bc"  # not standard's own container
    assert seen(people["endpoint_admin"]) == seen(people["admin"]) == "abcde"
    assert seen(people["none"]) == ""
    assert policy.can(operator, endpoint, "container.restart", "b" * 12)
    assert not policy.can(operator, endpoint, "container.remove", "b" * 12)  # operators remove nothing
    assert policy.can(standard, endpoint, "container.remove", "b" * 64)
    assert not policy.can(standard, endpoint, "container.remove", "e" * 64)
    assert not policy.can(people["readonly"], endpoint, "container.exec", "b" * 64)
    assert policy.can(people["readonly"], endpoint, "container.logs", "b" * 64)


@pytest.mark.django_db
def test_images_nobody_owns_are_seen_by_all_and_changed_by_administrators(endpoint) -> None:  # type: ignore[no-untyped-def]
    people, team = make_people(endpoint)
    images = ["sha256:" + "1" * 64, "sha256:" + "2" * 64, "sha256:" + "3" * 64]
    own(endpoint, team, "image", images[1])
    ResourceControl.objects.create(endpoint=endpoint, kind="image", resource_id=images[2], ownership=OWNER_ADMINS)
    assert policy.visible(people["readonly"], endpoint, "image", images, key=lambda i: i) == images[:2]
    assert not policy.can(people["standard"], endpoint, "image.remove", "1" * 12)
    assert policy.can(people["standard"], endpoint, "image.remove", "2" * 12)
    assert policy.can(people["readonly"], endpoint, "image.view", "1" * 12)


@pytest.mark.django_db
def test_events_are_filtered_like_lists(endpoint) -> None:  # type: ignore[no-untyped-def]
    people, team = make_people(endpoint)
    own(endpoint, team, "container", "f" * 64)
    events = [{"Type": "container", "Actor": {"ID": "f" * 64}}, {"Type": "container", "Actor": {"ID": "9" * 64}},
              {"Type": "daemon", "Actor": {"ID": "x"}}]
    assert policy.visible_events(people["readonly"], endpoint, events) == events[:1]
    assert policy.visible_events(people["admin"], endpoint, events) == events


# -- refusals of a non-administrator's privileged container: the form, the API, a stack file ------------------

@pytest.fixture
def standard_user(endpoint, django_user_model):  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user(f"sam-{secrets.token_hex(2)}")
    EndpointRole.objects.create(endpoint=endpoint, user=user, role=STANDARD)
    return user


def _containers(engine) -> set[str]:  # type: ignore[no-untyped-def]
    return set(engine.docker("ps", "-aq", "--no-trunc").stdout.split())


@pytest.mark.django_db
def test_the_form_refuses_a_privileged_container_and_records_it(client, endpoint, standard_user, engine) -> None:  # type: ignore[no-untyped-def]
    client.force_login(standard_user)
    before = _containers(engine)
    name = f"priv-{secrets.token_hex(3)}"
    form = {"image": "busybox", "name": name, "command": "sleep 60", "privileged": "on", "restart_policy": "no",
            **{f"{k}-TOTAL_FORMS": "0" for k in ("env", "ports", "volumes", "labels")},
            **{f"{k}-INITIAL_FORMS": "0" for k in ("env", "ports", "volumes", "labels")}}
    response = client.post(f"/endpoints/{endpoint.pk}/containers/new/", form)
    assert response.status_code == 400
    assert "privileged mode" in response.content.decode()
    assert _containers(engine) == before
    entry = Activity.objects.get(action="container.create", outcome=Activity.DENIED)
    assert entry.username == standard_user.username and "privileged mode" in entry.message and entry.endpoint == endpoint.name


@pytest.mark.django_db
def test_the_api_refuses_privileged_and_bind_mounts_and_records_it(endpoint, standard_user, engine) -> None:  # type: ignore[no-untyped-def]
    api = APIClient()
    api.force_authenticate(standard_user)
    before = _containers(engine)
    url = f"/api/endpoints/{endpoint.pk}/containers/"
    privileged = api.post(url, {"image": "busybox", "command": "sleep 60", "privileged": True}, format="json")
    assert privileged.status_code == 403 and "privileged mode" in privileged.json()["error"]["message"]
    bind = api.post(url, {"image": "busybox", "volumes": [{"type": "bind", "source": "/etc", "target": "/h"}]}, format="json")
    assert bind.status_code == 403 and "bind mounts" in bind.json()["error"]["message"]
    assert _containers(engine) == before
    assert Activity.objects.filter(action="container.create", outcome=Activity.DENIED).count() == 2


@pytest.mark.django_db
def test_administrators_are_not_bound_by_the_settings(endpoint, admin_user, engine) -> None:  # type: ignore[no-untyped-def]
    api = APIClient()
    api.force_authenticate(admin_user)
    name = f"adm-{secrets.token_hex(3)}"
    made = api.post(f"/api/endpoints/{endpoint.pk}/containers/",
                    {"image": "busybox", "name": name, "command": "sleep 60", "privileged": True}, format="json")
    try:
        assert made.status_code == 201, made.content
        control = ResourceControl.objects.get(endpoint=endpoint, kind="container", resource_id=made.json()["id"])
        assert control.ownership == OWNER_ADMINS
    finally:
        engine.docker("rm", "-f", name)


@pytest.mark.django_db
def test_a_volume_binding_a_host_path_is_refused(client, endpoint, standard_user) -> None:  # type: ignore[no-untyped-def]
    from console.volumes import service

    request = type("R", (), {"user": standard_user, "META": {"REMOTE_ADDR": "10.0.0.9"}})()
    with pytest.raises(Exception) as refused:
        service.create_volume(request, endpoint, "sneaky", "local", {"type": "none", "o": "bind", "device": "/etc"})
    assert getattr(refused.value, "status", None) == 403
    entry = Activity.objects.get(action="volume.create", outcome=Activity.DENIED)
    assert entry.remote_addr == "10.0.0.9"


@pytest.mark.django_db
def test_a_stack_file_with_a_privileged_service_is_refused_after_interpolation(endpoint, standard_user, engine) -> None:  # type: ignore[no-untyped-def]
    from console.endpoints.client import endpoint_client
    from console.stacks import service
    from console.stacks.compose import apply as compose
    from tests.console.stacks_support import Recorder, cleanup_project

    name = f"evil{secrets.token_hex(3)}"
    text = ("services:\n  web:\n    image: busybox\n    command: sleep 60\n    privileged: true\n"
            "  tools:\n    image: busybox\n    command: sleep 60\n    cap_add: [\"${CAPABILITY}\"]\n")
    project = service.load(service.Source(name, text, {"CAPABILITY": "NET_ADMIN"})).project
    before = _containers(engine)
    try:
        with policy.acting_as(standard_user, endpoint, "stack.deploy"), endpoint_client(endpoint) as client:
            with pytest.raises(compose.ApplyError) as refused:
                compose.up(client, project, Recorder())
        assert "privileged mode" in refused.value.message
        assert _containers(engine) == before
        entry = Activity.objects.get(action="stack.deploy", outcome=Activity.DENIED)
        assert entry.username == standard_user.username and entry.target == f"{name}/web"
        # The capability comes from a variable: the check sees the file after interpolation.
        tools_only = service.load(service.Source(name, text.split("  tools:")[0].replace("privileged: true", "")
                                                 + "  tools:" + text.split("  tools:")[1], {"CAPABILITY": "NET_ADMIN"}))
        with policy.acting_as(standard_user, endpoint, "stack.deploy"), endpoint_client(endpoint) as client:
            with pytest.raises(compose.ApplyError) as refused:
                compose.up(client, tools_only.project, Recorder())
        assert "added capabilities (NET_ADMIN)" in refused.value.message
    finally:
        cleanup_project(engine, name)
