"""The per-endpoint dashboard against a real Berth engine: counts, health, events, the live fragment."""

from __future__ import annotations

import time

import pytest

from console.endpoints.dashboard import count_health, describe_event
from console.endpoints.models import Endpoint

pytestmark = pytest.mark.django_db


def wait_for(check, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.fixture
def berth(engine) -> Endpoint:  # type: ignore[no-untyped-def]
    return Endpoint.objects.create(name="berth", url=engine.host)


def test_it_counts_containers_by_state_and_health(admin_client, berth, docker) -> None:  # type: ignore[no-untyped-def]
    before = admin_client.get(f"/endpoints/{berth.pk}/").context["board"]
    docker("run", "-d", "--name", "dash-ok", "--health-cmd", "true", "--health-interval", "1s", "busybox", "sleep", "300")
    docker("run", "-d", "--name", "dash-bad", "--health-cmd", "false", "--health-interval", "1s",
           "--health-retries", "1", "busybox", "sleep", "300")
    docker("run", "--name", "dash-done", "busybox", "true")
    wait_for(lambda: "(unhealthy)" in docker("ps", "--filter", "name=dash-bad").stdout
             and "(healthy)" in docker("ps", "--filter", "name=dash-ok").stdout)

    response = admin_client.get(f"/endpoints/{berth.pk}/")
    board = response.context["board"]
    assert response.status_code == 200
    assert board.status.up
    assert board.status.containers_running == before.status.containers_running + 2
    assert board.status.containers_stopped == before.status.containers_stopped + 1
    assert (board.healthy, board.unhealthy) == (before.healthy + 1, before.unhealthy + 1)
    assert board.image_bytes > 0 and board.status.images >= 1
    assert board.status.volumes >= 0 and board.status.networks >= 3
    body = response.content.decode()
    assert f'data-events-socket="/ws/endpoints/{berth.pk}/events/"' in body
    assert 'hx-trigger="engine-changed delay:500ms"' in body
    # The recent events include what just happened, newest first.
    actions = [(e.type, e.action, e.name) for e in board.events]
    assert ("container", "die", "dash-done") in actions
    assert actions.index(("container", "die", "dash-done")) < actions.index(("container", "create", "dash-done"))


def test_the_stats_fragment_reads_the_engine_afresh(admin_client, berth, docker) -> None:  # type: ignore[no-untyped-def]
    first = admin_client.get(f"/endpoints/{berth.pk}/stats/").context["board"]
    docker("volume", "create", "dash-vol")
    try:
        response = admin_client.get(f"/endpoints/{berth.pk}/stats/")
    finally:
        docker("volume", "rm", "dash-vol")
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body  # a fragment
    assert response.context["board"].status.volumes == first.status.volumes + 1
    assert 'id="engine-line" hx-swap-oob="true"' in body  # the header's engine line follows too
    assert response.context["board"].events == []  # the fragment does not read the event history


def test_an_unreachable_engine_says_what_to_do(admin_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    gone = Endpoint.objects.create(name="gone", url=f"unix://{tmp_path}/none.sock")
    for path in (f"/endpoints/{gone.pk}/", f"/endpoints/{gone.pk}/stats/"):
        body = admin_client.get(path).content.decode()
        assert "Unreachable" in body and "No such file or directory" in body
        assert "What to try" in body and f'hx-get="/endpoints/{gone.pk}/stats/"' in body  # "Try again"


def test_the_local_endpoint_unreachable_points_at_make_up(admin_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    local = Endpoint.objects.get(name="local")
    Endpoint.objects.filter(pk=local.pk).update(url=f"unix://{tmp_path}/none.sock")
    assert "make up" in admin_client.get(f"/endpoints/{local.pk}/").content.decode()


def test_a_dashboard_of_an_unknown_endpoint_is_404(admin_client) -> None:  # type: ignore[no-untyped-def]
    assert admin_client.get("/endpoints/9999/").status_code == 404
    assert admin_client.get("/endpoints/9999/stats/").status_code == 404


def test_the_dashboard_needs_an_administrator(client, django_user_model) -> None:  # type: ignore[no-untyped-def]
    local = Endpoint.objects.get(name="local")
    assert client.get(f"/endpoints/{local.pk}/stats/").status_code == 302
    client.force_login(django_user_model.objects.create_user("bob", password="x" * 16))
    assert client.get(f"/endpoints/{local.pk}/").status_code == 403
    assert client.get(f"/endpoints/{local.pk}/stats/").status_code == 403


def test_it_reads_health_from_status_texts() -> None:
    rows = [{"Status": "Up 2 minutes (healthy)"}, {"Status": "Up 1 second (health: starting)"},
            {"Status": "Up 5 hours (unhealthy)"}, {"Status": "Exited (0) 3 days ago"}, {}]
    assert count_health(rows) == {"healthy": 1, "unhealthy": 1, "starting": 1}


def test_it_describes_events() -> None:
    line = describe_event({"Type": "volume", "Action": "create", "Actor": {"ID": "a-long-volume-name"}, "timeNano": 1_700_000_000_000_000_000})
    assert (line.type, line.action, line.name) == ("volume", "create", "a-long-volume-name")
    assert line.time.year == 2023
    line = describe_event({"Type": "container", "Action": "health_status: healthy", "time": 1,
                           "Actor": {"ID": "0123456789abcdef", "Attributes": {"name": "web"}}})
    assert (line.action, line.name) == ("health_status: healthy", "web")
    assert describe_event({"status": "old-style"}) is None
