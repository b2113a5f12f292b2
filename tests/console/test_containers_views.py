"""The containers list, its table partial and bulk actions, against the session's real Berth engine."""

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


def bulk(client, endpoint, action: str, *ids: str, force: bool = False, htmx: bool = True):  # type: ignore[no-untyped-def]
    data = {"action": action, "ids": list(ids), **({"force": "on"} if force else {})}
    extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(reverse("containers:bulk", kwargs={"eid": endpoint.pk}), data, **extra)


def test_bulk_actions_change_containers_and_are_audited(admin_client, endpoint, run_busybox, docker) -> None:  # type: ignore[no-untyped-def]
    a, b = run_busybox(*POLITE, name=name()), run_busybox(*POLITE, name=name())
    for action, expected in (("pause", "paused"), ("unpause", "running"), ("stop", "exited"), ("start", "running"),
                             ("restart", "running"), ("kill", "exited")):
        response = bulk(admin_client, endpoint, action, a, b)
        assert response.status_code == 200, action
        assert response["HX-Trigger"] == "containers-changed"
        assert "could not be" not in response.content.decode(), (action, response.content.decode())
        assert (state(docker, a), state(docker, b)) == (expected, expected), action
    assert Activity.objects.filter(action="container.pause", outcome=Activity.SUCCESS, details__id=a).exists()
    assert Activity.objects.filter(action="container.kill").count() == 2

    response = bulk(admin_client, endpoint, "remove", a, b)
    assert b"Removed 2 containers." in response.content
    assert docker("ps", "-aq", "--no-trunc").stdout.split().count(a) == 0


def test_bulk_actions_show_each_containers_error(admin_client, endpoint, run_busybox, docker) -> None:  # type: ignore[no-untyped-def]
    running = run_busybox(*POLITE, name=name())
    stopped = docker("create", "--name", name(), "busybox", "true").stdout.strip()

    body = bulk(admin_client, endpoint, "unpause", running, stopped).content.decode()
    assert "2 containers could not be resumed" in body
    assert f"Container {running} is not paused" in body  # the engine's own words
    failures = Activity.objects.filter(action="container.unpause", outcome=Activity.FAILURE)
    assert failures.count() == 2 and f"{running} is not paused" in failures.get(details__id=running).message

    body = bulk(admin_client, endpoint, "remove", running).content.decode()
    assert "could not be removed" in body and "Stop the container before attempting removal or force remove" in body
    assert state(docker, running) == "running"
    body = bulk(admin_client, endpoint, "remove", running, force=True).content.decode()
    assert "Removed 1 container." in body
    assert Activity.objects.filter(action="container.remove", outcome=Activity.SUCCESS, details__force=True).exists()


def test_bulk_actions_work_without_javascript(admin_client, endpoint, run_busybox, docker) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox(*POLITE, name=name())
    response = bulk(admin_client, endpoint, "stop", cid, htmx=False)
    assert response.status_code == 302
    page = admin_client.get(response["Location"])
    assert "Stopped 1 container." in [str(m) for m in page.context["messages"]]
    assert state(docker, cid) == "exited"
    assert bulk(admin_client, endpoint, "explode", cid).status_code == 400


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
