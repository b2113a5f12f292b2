"""The containers list and its table partial, against the session's real Berth engine (bulk actions, which run as
jobs: tests/console/test_bulk_actions.py)."""

from __future__ import annotations

import secrets

import pytest
from django.urls import reverse

from console.audit.models import Activity
from console.endpoints.models import Endpoint

pytestmark = pytest.mark.django_db

# A container that stops promptly on SIGTERM (busybox's sleep as PID 1 would ignore it for 10 s).
POLITE = ("sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done")


def name() -> str:
    return f"list-{secrets.token_hex(3)}"


def state(docker, cid: str) -> str:  # type: ignore[no-untyped-def]
    return docker("inspect", "-f", "{{.State.Status}}", cid).stdout.strip()


def test_it_lists_containers_with_state_ports_and_links(admin_client, endpoint, run_busybox, docker) -> None:  # type: ignore[no-untyped-def]
    web = run_busybox("httpd", "-f", "-p", "80", name=name(), args=("-p", "127.0.0.1::80"))
    idle = docker("create", "--name", name(), "busybox", "true").stdout.strip()
    port = docker("port", web, "80/tcp").stdout.split(":")[-1].strip()

    response = admin_client.get(reverse("containers:list", kwargs={"eid": endpoint.pk}))
    body = response.content.decode()
    assert response.status_code == 200
    assert f'data-id="{web}" data-state="running"' in body
    assert f'data-id="{idle}" data-state="created"' in body
    assert f'href="http://127.0.0.1:{port}/"' in body  # the published port, as a link
    assert f'href="/endpoints/{endpoint.pk}/containers/{web[:12]}/"' in body  # the container page
    assert 'data-events="/ws/endpoints/%d/events/"' % endpoint.pk in body


def test_it_says_when_there_are_no_containers(admin_client, endpoint, docker) -> None:  # type: ignore[no-untyped-def]
    if docker("ps", "-aq").stdout.strip():
        pytest.skip("the session's engine has containers from elsewhere")
    body = admin_client.get(reverse("containers:list", kwargs={"eid": endpoint.pk})).content.decode()
    assert "No containers yet — create one" in body
    assert reverse("containers:create", kwargs={"eid": endpoint.pk}) in body


def test_it_says_when_the_engine_is_unreachable(admin_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    gone = Endpoint.objects.create(name="gone", url=f"unix://{tmp_path}/none.sock")
    response = admin_client.get(reverse("containers:list", kwargs={"eid": gone.pk}))
    body = response.content.decode()
    assert response.status_code == 200
    assert "The engine does not answer" in body and 'role="alert"' in body
    assert f"Cannot reach the engine at unix://{tmp_path}/none.sock: No such file or directory." in body
    assert "Traceback" not in body


def test_the_table_partial_filters_searches_and_sorts(admin_client, endpoint, run_busybox, docker) -> None:  # type: ignore[no-untyped-def]
    tag = secrets.token_hex(3)
    running = run_busybox(*POLITE, name=f"b-run-{tag}")
    created = docker("create", "--name", f"a-new-{tag}", "busybox", "true").stdout.strip()
    rows = reverse("containers:rows", kwargs={"eid": endpoint.pk})

    body = admin_client.get(rows, {"q": tag, "state": "created"}).content.decode()
    assert created in body and running not in body

    body = admin_client.get(rows, {"q": tag}).content.decode()
    assert body.index(created) < body.index(running)  # by name: a-new before b-run
    body = admin_client.get(rows, {"q": tag, "sort": "name", "dir": "desc"}).content.decode()
    assert body.index(running) < body.index(created)
    assert 'aria-sort="descending"' in body

    response = admin_client.get(rows, {"q": "no-such-container-anywhere"}, HTTP_HX_REQUEST="true")
    assert "No containers match" in response.content.decode()
    assert response["HX-Replace-Url"] == reverse("containers:list", kwargs={"eid": endpoint.pk}) + "?q=no-such-container-anywhere"


def test_only_administrators_see_or_change_containers(client, django_user_model, endpoint) -> None:  # type: ignore[no-untyped-def]
    urls = [reverse(n, kwargs={"eid": endpoint.pk}) for n in ("containers:list", "containers:rows", "containers:create")]
    for url in urls:
        assert client.get(url)["Location"].startswith("/login/")
    assert client.post(reverse("containers:bulk", kwargs={"eid": endpoint.pk}), {"action": "stop"}).status_code == 302
    client.force_login(django_user_model.objects.create_user("plain", password="x" * 20))
    for url in urls:
        assert client.get(url).status_code == 403
    assert client.post(reverse("containers:bulk", kwargs={"eid": endpoint.pk}), {"action": "stop", "ids": ["x"]}).status_code == 403
    assert not Activity.objects.filter(action="container.stop", outcome=Activity.SUCCESS).exists()
