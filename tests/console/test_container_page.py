"""The container page: who may see it, what it shows, its live parts, actions and rename (audited)."""

from __future__ import annotations

import pytest

from console.audit.models import Activity

pytestmark = pytest.mark.django_db


def page(ep, cid: str, tail: str = "") -> str:  # type: ignore[no-untyped-def]
    return f"/endpoints/{ep.pk}/containers/{cid}/{tail}"


def test_anonymous_users_go_to_login_and_others_get_403(client, django_user_model, endpoint, run_busybox) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("sleep", "600")
    response = client.get(page(endpoint, cid))
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
    client.force_login(django_user_model.objects.create_user("pleb", password="x" * 20))
    assert client.get(page(endpoint, cid)).status_code == 403
    assert client.post(page(endpoint, cid, "do/stop/")).status_code == 403
    assert client.post(page(endpoint, cid, "rename/"), {"name": "x"}).status_code == 403


def test_it_shows_the_summary(admin_client, endpoint, run_busybox, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("httpd", "-f", "-p", "8080", name="page-web",
                      args=("-p", "127.0.0.1::8080", "--memory", "64m", "-l", "team=blue", "-v", f"{tmp_path}:/data:ro",
                            "--restart", "on-failure:3"))
    response = admin_client.get(page(endpoint, cid))
    assert response.status_code == 200
    html = response.content.decode()
    assert "page-web" in html and "badge-running" in html
    assert "httpd -f -p 8080" in html
    assert "64 MiB" in html and "team" in html and "blue" in html
    assert "/data" in html and str(tmp_path) in html and "read-only" in html
    assert "On failure (at most 3 retries)" in html
    assert 'href="http://127.0.0.1:' in html  # the published port as a link
    assert f"/ws/endpoints/{endpoint.pk}/containers/{cid}/logs/" in html
    assert "&quot;Id&quot;: &quot;" + cid in html  # raw inspect JSON, escaped
    for action in ("stop", "restart", "pause", "kill", "remove"):
        assert f"/do/{action}/" in html
    assert "/do/start/" not in html


def test_an_unknown_container_is_404_and_a_dead_engine_502(admin_client, endpoint, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert admin_client.get(page(endpoint, "no-such-thing")).status_code == 404
    endpoint.url = f"unix://{tmp_path}/gone.sock"
    endpoint.save()
    response = admin_client.get(page(endpoint, "whatever"))
    assert response.status_code == 502 and b"does not answer" in response.content


def test_the_parts_follow_the_state_and_show_health(admin_client, endpoint, run_busybox, docker) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("sleep", "600", args=("--health-cmd", "echo probe-ok", "--health-interval", "1s"))
    docker("stop", "-t", "1", cid)
    response = admin_client.get(page(endpoint, cid, "parts/"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="c-title"' in html and 'data-status="exited"' in html and "/do/start/" in html
    assert 'id="c-health"' in html and 'id="c-inspect"' in html
    assert "<html" not in html  # a fragment


def test_health_probes_are_shown_with_output_and_exit_code(admin_client, endpoint, run_busybox) -> None:  # type: ignore[no-untyped-def]
    import time

    cid = run_busybox("sleep", "600", args=("--health-cmd", "echo probe-ok; exit 1", "--health-interval", "1s",
                                            "--health-retries", "2"))
    deadline = time.monotonic() + 20
    html = ""
    while time.monotonic() < deadline:
        html = admin_client.get(page(endpoint, cid, "parts/")).content.decode()
        if "badge-unhealthy" in html:
            break
        time.sleep(0.5)
    assert "badge-unhealthy" in html
    assert "probe-ok" in html and "Failing streak" in html
    assert '<span class="badge badge-bad">1</span>' in html


def test_actions_change_the_state_and_are_audited(admin_client, endpoint, run_busybox, docker) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("sleep", "600", name="page-act")
    response = admin_client.post(page(endpoint, cid, "do/stop/"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'hx-swap-oob="true"' in html and 'data-status="exited"' in html and "Stopped page-act." in html
    assert docker("inspect", "-f", "{{.State.Status}}", cid).stdout.strip() == "exited"
    entry = Activity.objects.get(action="container.stop")
    assert (entry.target, entry.outcome) == ("page-act", Activity.SUCCESS)

    response = admin_client.post(page(endpoint, cid, "do/pause/"))  # not running: the engine refuses
    assert response.status_code == 302
    assert Activity.objects.get(action="container.pause").outcome == Activity.FAILURE

    response = admin_client.post(page(endpoint, cid, "do/remove/"), HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response["HX-Redirect"] == f"/endpoints/{endpoint.pk}/containers/"
    assert docker("inspect", cid).returncode != 0
    assert admin_client.post(page(endpoint, cid, "do/dance/")).status_code == 404


def test_rename_checks_the_name_and_is_audited(admin_client, endpoint, run_busybox) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("sleep", "600", name="page-old")
    run_busybox("sleep", "600", name="page-taken")
    response = admin_client.post(page(endpoint, cid, "rename/"), {"name": "bad name!"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and b'aria-invalid="true"' in response.content
    response = admin_client.post(page(endpoint, cid, "rename/"), {"name": "page-taken"}, HTTP_HX_REQUEST="true")
    assert b"field-error" in response.content and b"page-taken" in response.content
    response = admin_client.post(page(endpoint, cid, "rename/"), {"name": "page-new"})
    assert response.status_code == 302 and response["Location"] == f"/endpoints/{endpoint.pk}/containers/{cid}/"
    assert "page-new" in admin_client.get(response["Location"]).content.decode()
    outcomes = list(Activity.objects.filter(action="container.rename").order_by("created_at")
                    .values_list("outcome", flat=True))
    assert outcomes == [Activity.FAILURE, Activity.FAILURE, Activity.SUCCESS]
