"""Network pages against the session's real Berth engine: list, create, detail, connect, disconnect, remove (prune, a job: test_prune_jobs.py);
and the walk a new user makes: a network and a volume, then a container on both (through the containers API)."""

from __future__ import annotations

import json
import secrets

import pytest
from django.urls import reverse

from console.audit.models import Activity

pytestmark = pytest.mark.django_db


@pytest.fixture
def made(docker):  # type: ignore[no-untyped-def]
    """{"networks": [...], "volumes": [...]} a test makes; removed after it (its containers go first, by `docker`)."""
    things: dict[str, list[str]] = {"networks": [], "volumes": []}
    yield things
    for name in things["networks"]:
        docker("network", "rm", name)
    for name in things["volumes"]:
        docker("volume", "rm", "-f", name)


def fresh(prefix: str = "net") -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def url(name: str, eid: int, nid: str | None = None) -> str:
    return reverse(f"networks:{name}", kwargs={"eid": eid, **({"nid": nid} if nid else {})})


def inspect(docker, name: str) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(docker("network", "inspect", name, check=True).stdout)[0]


def form(**fields: object) -> dict[str, object]:
    return {"name": fresh(), "driver": "bridge", "subnet": "", "gateway": "", "ip_range": "", "bridge_name": "",
            "parent": "", "labels": "", **fields}


def test_a_network_and_a_volume_then_a_container_on_both(admin_client, endpoint, docker, made) -> None:  # type: ignore[no-untyped-def]
    net, vol = fresh(), fresh("data")
    made["networks"].append(net)
    made["volumes"].append(vol)
    subnet = f"172.{secrets.randbelow(10) + 20}.{secrets.randbelow(250)}.0/24"
    gateway = subnet.replace(".0/24", ".1")
    response = admin_client.post(url("create", endpoint.pk), form(
        name=net, subnet=subnet, gateway=gateway, ip_range=subnet.replace(".0/24", ".128/25"), labels="tier=backend"))
    assert response.status_code == 302, response.content.decode()[:2000]
    data = inspect(docker, net)
    assert data["IPAM"]["Config"][0] == {"Subnet": subnet, "Gateway": gateway, "IPRange": subnet.replace(".0/24", ".128/25")}
    assert data["Labels"] == {"tier": "backend"}
    assert response["Location"] == url("detail", endpoint.pk, data["Id"][:12])
    assert admin_client.post(reverse("volumes:create", kwargs={"eid": endpoint.pk}),
                             {"name": vol, "driver": "local"}).status_code == 302

    spec = {"image": "busybox", "name": fresh("app"), "command": "sh -c 'echo hello > /data/hello; sleep 60'",
            "network": net, "aliases": "api", "volumes": [{"type": "volume", "source": vol, "target": "/data"}]}
    created = admin_client.post(f"/api/endpoints/{endpoint.pk}/containers/", spec, content_type="application/json")
    assert created.status_code == 201, created.content

    page = admin_client.get(url("detail", endpoint.pk, data["Id"][:12])).content.decode()
    assert spec["name"] in page and "api" in page
    addresses = [c["IPv4Address"] for c in inspect(docker, net)["Containers"].values()]
    assert addresses and addresses[0].split("/")[0] in page, page[page.find("Attached containers"):][:3000]
    listing = admin_client.get(url("list", endpoint.pk)).content.decode()
    assert net in listing and subnet in listing
    vol_page = admin_client.get(reverse("volumes:detail", kwargs={"eid": endpoint.pk, "name": vol})).content.decode()
    assert spec["name"] in vol_page and "/data" in vol_page
    files = admin_client.get(reverse("volumes:files", kwargs={"eid": endpoint.pk, "name": vol})).content.decode()
    assert "hello" in files


def test_connect_and_disconnect_with_an_alias_and_an_address(admin_client, endpoint, docker, made, run_busybox) -> None:  # type: ignore[no-untyped-def]
    net = fresh()
    made["networks"].append(net)
    subnet = f"172.{secrets.randbelow(10) + 20}.{secrets.randbelow(250)}.0/24"
    docker("network", "create", "--subnet", subnet, net, check=True)
    nid = inspect(docker, net)["Id"][:12]
    box = fresh("box")
    run_busybox("sleep", "60", name=box)

    detail = admin_client.get(url("detail", endpoint.pk, nid)).content.decode()
    assert "No container is attached to this network." in detail and f'<option value="{box}">' in detail
    address = subnet.replace(".0/24", ".77")
    response = admin_client.post(url("connect", endpoint.pk, nid), {"container": box, "aliases": "cache, redis", "ipv4": address})
    assert response.status_code == 302
    settings = json.loads(docker("inspect", box, check=True).stdout)[0]["NetworkSettings"]["Networks"][net]
    assert settings["IPAddress"] == address and {"cache", "redis"} <= set(settings["Aliases"])
    detail = admin_client.get(url("detail", endpoint.pk, nid)).content.decode()
    assert f"{address}/24" in detail and settings["MacAddress"] in detail and "cache, redis" in detail

    remove = admin_client.post(url("remove", endpoint.pk, nid), follow=True)
    assert f"{net} still has containers attached ({box})" in " ".join(str(m) for m in remove.context["messages"])
    assert docker("network", "inspect", net).returncode == 0

    cid = settings and json.loads(docker("inspect", box, check=True).stdout)[0]["Id"]
    assert admin_client.post(url("disconnect", endpoint.pk, nid), {"container": cid}).status_code == 302
    assert net not in json.loads(docker("inspect", box, check=True).stdout)[0]["NetworkSettings"]["Networks"]
    assert {a.action for a in Activity.objects.filter(outcome=Activity.SUCCESS)} >= {"network.connect", "network.disconnect"}

    assert admin_client.post(url("remove", endpoint.pk, nid)).status_code == 302
    assert docker("network", "inspect", net).returncode != 0


@pytest.mark.parametrize("fields, field, words", [
    ({"name": "bad name"}, "name", "use letters"),
    ({"name": "bridge"}, "name", "engine's own networks"),
    ({"subnet": "10.9.8.7/24"}, "subnet", "did you mean 10.9.8.0/24"),
    ({"subnet": "nonsense"}, "subnet", "CIDR"),
    ({"subnet": "10.9.8.0/24", "gateway": "10.9.9.1"}, "gateway", "not in the subnet"),
    ({"subnet": "10.9.8.0/24", "gateway": "10.9.8.0"}, "gateway", "network address"),
    ({"subnet": "10.9.8.0/24", "ip_range": "10.9.0.0/16"}, "ip_range", "not inside the subnet"),
    ({"gateway": "10.9.8.1"}, "gateway", "set a subnet first"),
    ({"driver": "macvlan"}, "parent", "macvlan needs"),
    ({"parent": "eth0"}, "parent", "only macvlan"),
    ({"bridge_name": "a-name-that-is-too-long"}, "bridge_name", "at most 15"),
    ({"driver": "overlay"}, "driver", "Select a valid choice"),
    ({"labels": "=x"}, "labels", "key=value"),
])
def test_bad_input_gets_per_field_errors_and_changes_nothing(admin_client, endpoint, docker, fields, field, words) -> None:  # type: ignore[no-untyped-def]
    before = docker("network", "ls", "-q").stdout.split()
    response = admin_client.post(url("create", endpoint.pk), form(**fields))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert words in " ".join(errors.get(field, [])), errors
    assert docker("network", "ls", "-q").stdout.split() == before


def test_the_engines_refusal_lands_on_its_field(admin_client, endpoint, docker, made) -> None:  # type: ignore[no-untyped-def]
    first, second = fresh(), fresh()
    made["networks"].extend([first, second])
    subnet = f"172.{secrets.randbelow(10) + 20}.{secrets.randbelow(250)}.0/24"
    docker("network", "create", "--subnet", subnet, first, check=True)
    response = admin_client.post(url("create", endpoint.pk), form(name=second, subnet=subnet))
    assert response.status_code == 400
    assert "overlaps" in " ".join(response.context["form"].errors["subnet"])
    assert Activity.objects.get(action="network.create", target=second).outcome == Activity.FAILURE


def test_an_unknown_network_is_a_404_and_a_gone_engine_is_said(admin_client, endpoint, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from console.endpoints.models import Endpoint

    assert admin_client.get(url("detail", endpoint.pk, "0123456789ab")).status_code == 404
    gone = Endpoint.objects.create(name="gone", url=f"unix://{tmp_path}/none.sock")
    body = admin_client.get(url("list", gone.pk)).content.decode()
    assert "The engine does not answer" in body and "No such file or directory" in body
