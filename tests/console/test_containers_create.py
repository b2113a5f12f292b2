"""The create form, Duplicate and Edit, end to end through Django against the session's real Berth engine."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from django.urls import reverse

from console.audit.models import Activity
from console.containers.models import ContainerSpec

pytestmark = pytest.mark.django_db

POLITE = "sh -c \"trap 'exit 0' TERM; while true; do sleep 0.2; done\""


def form_data(**fields: Any) -> dict[str, Any]:
    """POST data as the page sends it: management forms for the four row sections, then `fields`."""
    data: dict[str, Any] = {"restart_policy": "no"}
    for prefix in ("env", "ports", "volumes", "labels"):
        data[f"{prefix}-TOTAL_FORMS"], data[f"{prefix}-INITIAL_FORMS"] = "3", "0"
        data[f"{prefix}-0-protocol" if prefix == "ports" else f"{prefix}-0-type"] = "tcp" if prefix == "ports" else "volume"
    data.update(fields)
    return data


def inspect(docker, ref: str) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(docker("inspect", ref, check=True).stdout)[0]


@pytest.fixture
def create_url(endpoint) -> str:  # type: ignore[no-untyped-def]
    return reverse("containers:create", kwargs={"eid": endpoint.pk})


def test_the_form_renders_with_sensible_defaults(admin_client, create_url) -> None:  # type: ignore[no-untyped-def]
    body = admin_client.get(create_url).content.decode()
    assert 'name="image"' in body and "autofocus" in body
    assert '<option value="no" selected>Never</option>' in body
    assert 'name="ports-TOTAL_FORMS" value="1"' in body and "ports-__prefix__-container_port" in body
    assert '<option value="bridge">' in body  # the engine's networks, suggested


def test_it_creates_and_starts_a_container_from_the_form(admin_client, create_url, endpoint, docker) -> None:  # type: ignore[no-untyped-def]
    name, volume = f"made-{secrets.token_hex(3)}", f"vol-{secrets.token_hex(3)}"
    response = admin_client.post(create_url, form_data(**{
        "image": "busybox", "name": name, "command": POLITE, "user": "0", "working_dir": "/tmp",
        "env-0-name": "GREETING", "env-0-value": "hello", "env_file": "FROM_FILE=1\n# note\n",
        "ports-0-container_port": "80", "ports-0-host_ip": "127.0.0.1",
        "volumes-0-source": volume, "volumes-0-target": "/data", "volumes-1-type": "tmpfs", "volumes-1-target": "/scratch",
        "labels-0-name": "app", "labels-0-value": "demo",
        "memory": "64m", "cpus": "0.5", "pids_limit": "50", "blkio_weight": "300", "restart_policy": "on-failure", "max_retries": "2",
        "health_command": "true", "health_interval": "1s",
    }))
    assert response.status_code == 302, response.content.decode()[-3000:]
    try:
        c = inspect(docker, name)
        assert c["State"]["Running"]
        assert c["Config"]["Cmd"] == ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]
        assert {"GREETING=hello", "FROM_FILE=1"} <= set(c["Config"]["Env"])
        assert c["Config"]["Labels"] == {"app": "demo"} and c["Config"]["User"] == "0" and c["Config"]["WorkingDir"] == "/tmp"
        assert c["HostConfig"]["Memory"] == 64 * 1024**2 and c["HostConfig"]["NanoCpus"] == 500_000_000
        assert c["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
        assert c["Config"]["Healthcheck"]["Test"] == ["CMD-SHELL", "true"]
        assert c["HostConfig"]["PortBindings"]["80/tcp"][0]["HostIp"] == "127.0.0.1"
        assert {(m["Type"], m["Destination"]) for m in c["Mounts"]} >= {("volume", "/data")}

        kept = ContainerSpec.objects.get(endpoint=endpoint, container_id=c["Id"])
        assert kept.name == name and kept.spec["memory"] == "64m" and kept.spec["env_file"] == "FROM_FILE=1\n# note"
        entry = Activity.objects.get(action="container.create", target=name)
        assert entry.outcome == Activity.SUCCESS and entry.details["spec"]["env"] == ["GREETING"]  # no values logged
        assert "hello" not in json.dumps(entry.details)

        page = admin_client.get(response["Location"])
        messages = [str(m) for m in page.context["messages"]]
        assert f"Created and started {name}." in messages
        if c["HostConfig"]["BlkioWeight"] != 300:  # this kernel cannot weigh block I/O: the engine warned
            assert any(m.startswith("The engine warns: ") and "Block I/O weight" in m for m in messages), messages
    finally:
        docker("rm", "-f", name)
        docker("volume", "rm", volume)


def test_bad_input_is_shown_per_field(admin_client, create_url) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.post(create_url, form_data(**{
        "image": "", "memory": "heaps", "ports-0-container_port": "99999", "volumes-0-target": "relative",
        "volumes-0-source": "x",
    }))
    assert response.status_code == 400
    body = response.content.decode()
    assert "Please correct the fields marked below." in body
    assert "This field is required." in body
    assert "Write a size such as 512m, 1g or 268435456 (bytes)" in body
    assert "Ports are between 1 and 65535" in body
    assert "An absolute path in the container, such as /data" in body
    assert 'aria-invalid="true"' in body
    assert not Activity.objects.filter(action="container.create").exists()


def test_the_engines_refusals_land_on_the_right_field(admin_client, create_url, docker) -> None:  # type: ignore[no-untyped-def]
    name = f"taken-{secrets.token_hex(3)}"
    docker("create", "--name", name, "busybox", "true", check=True)
    response = admin_client.post(create_url, form_data(image="busybox", name=name))
    assert response.status_code == 400
    form = response.context["form"]
    assert "is already in use" in form.errors["name"][0]
    assert "The engine said:" in response.content.decode()
    failure = Activity.objects.get(action="container.create", outcome=Activity.FAILURE)
    assert "is already in use" in failure.message

    response = admin_client.post(create_url, form_data(image="localhost:1/missing:latest"))  # a registry that refuses
    image_error = response.context["form"].errors["image"][0]
    assert image_error.startswith("No such image: localhost:1/missing:latest (pulling it failed: ")

    before = sorted(docker("ps", "-aq").stdout.split())
    response = admin_client.post(create_url, form_data(image="busybox", command="/no/such/binary"))
    assert response.status_code == 400
    assert response.context["form"].errors["command"], response.context["form"].errors
    assert sorted(docker("ps", "-aq").stdout.split()) == before  # the half-made one was removed


def make(admin_client, create_url, docker, **fields: Any) -> dict:  # type: ignore[no-untyped-def]
    response = admin_client.post(create_url, form_data(image="busybox", command=POLITE, **fields))
    assert response.status_code == 302, response.content.decode()[-2000:]
    return inspect(docker, fields["name"])


def test_duplicate_prefills_the_form_from_the_kept_spec(admin_client, create_url, endpoint, docker) -> None:  # type: ignore[no-untyped-def]
    name = f"orig-{secrets.token_hex(3)}"
    c = make(admin_client, create_url, docker, name=name, memory="48m", **{"env-0-name": "K", "env-0-value": "v"})
    docker("update", "--memory", "96m", c["Id"])  # inspect now differs from the spec: the spec wins
    response = admin_client.get(reverse("containers:duplicate", kwargs={"eid": endpoint.pk, "cid": c["Id"][:12]}))
    assert response.status_code == 200
    body = response.content.decode()
    assert f'value="{name}-copy"' in body and 'value="48m"' in body and 'value="K"' in body
    assert f'action="{create_url}"' in body

    response = admin_client.get(reverse("containers:duplicate", kwargs={"eid": endpoint.pk, "cid": "nope"}), follow=True)
    assert "was not created through the console" in str(list(response.context["messages"])[0])


def test_edit_recreates_the_container_after_confirmation(admin_client, create_url, endpoint, docker) -> None:  # type: ignore[no-untyped-def]
    name = f"edit-{secrets.token_hex(3)}"
    old = make(admin_client, create_url, docker, name=name, **{"env-0-name": "VERSION", "env-0-value": "1"})
    url = reverse("containers:edit", kwargs={"eid": endpoint.pk, "cid": name})
    assert 'value="VERSION"' in admin_client.get(url).content.decode()

    changed = form_data(image="busybox", name=name, command=POLITE, **{"env-0-name": "VERSION", "env-0-value": "2"})
    response = admin_client.post(url, changed)
    assert response.status_code == 400 and "Tick this to confirm" in response.content.decode()
    assert inspect(docker, name)["Id"] == old["Id"]

    response = admin_client.post(url, {**changed, "confirm": "on"})
    assert response.status_code == 302, response.content.decode()[-2000:]
    new = inspect(docker, name)
    assert new["Id"] != old["Id"] and new["State"]["Running"] and "VERSION=2" in new["Config"]["Env"]
    assert docker("inspect", old["Id"]).returncode != 0  # the old one is gone
    kept = ContainerSpec.objects.get(endpoint=endpoint, name=name)
    assert kept.container_id == new["Id"] and kept.spec["env"] == [{"name": "VERSION", "value": "2"}]
    assert Activity.objects.filter(action="container.recreate", outcome=Activity.SUCCESS, details__replaces=old["Id"]).exists()


def test_a_failed_edit_puts_the_old_container_back(admin_client, create_url, endpoint, docker) -> None:  # type: ignore[no-untyped-def]
    name = f"keep-{secrets.token_hex(3)}"
    old = make(admin_client, create_url, docker, name=name)
    url = reverse("containers:edit", kwargs={"eid": endpoint.pk, "cid": old["Id"][:12]})
    response = admin_client.post(url, form_data(image="busybox", name=name, command="/no/such/binary", confirm="on"))
    assert response.status_code == 400
    assert response.context["form"].errors["command"]
    back = inspect(docker, name)
    assert back["Id"] == old["Id"] and back["State"]["Running"]
    assert ContainerSpec.objects.get(endpoint=endpoint, name=name).container_id == old["Id"]
    assert Activity.objects.filter(action="container.recreate", outcome=Activity.FAILURE).exists()


def test_the_form_says_when_the_engine_is_away(admin_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from console.endpoints.models import Endpoint

    gone = Endpoint.objects.create(name="gone", url=f"unix://{tmp_path}/none.sock")
    url = reverse("containers:create", kwargs={"eid": gone.pk})
    assert "The engine does not answer right now" in admin_client.get(url).content.decode()
    response = admin_client.post(url, form_data(image="busybox"))
    assert response.status_code == 400
    assert f"Cannot reach the engine at unix://{tmp_path}/none.sock" in response.content.decode()
    assert Activity.objects.get(action="container.create").outcome == Activity.FAILURE
