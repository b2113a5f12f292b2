"""Drift: a container's Changes (page and API) are what `docker diff` says; the containers list marks
running containers whose files changed ("snowflakes") from counts taken in the background."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.test import override_settings
from django.urls import reverse

from console.containers import drift
from console.containers.changes import Change, count, parse_changes, select
from console.observe.tasks import refresh_drift

pytestmark = pytest.mark.django_db

PATCH_IN_PLACE = ("touch /x; mkdir -p /srv/new; echo hi > /srv/new/f; echo 'extra:x:9:9::/:/bin/sh' >> /etc/passwd; "
                  "rm /etc/nsswitch.conf; rm -r /var/www")


def docker_diff(docker, cid: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """`docker diff` as the docker CLI prints it: (kind letter, path) lines."""
    out = docker("diff", cid, check=True).stdout.splitlines()
    return [(line[0], line[2:]) for line in out if line.strip()]


def test_the_api_lists_what_docker_diff_lists(admin_client, endpoint, run_busybox, docker) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("sleep", "60")
    docker("exec", cid, "sh", "-c", PATCH_IN_PLACE, check=True)
    url = reverse("api-container-changes", kwargs={"eid": endpoint.pk, "cid": cid[:12]})
    body = admin_client.get(url).json()
    expected = docker_diff(docker, cid)
    assert sorted((c["kind"], c["path"]) for c in body["changes"]) == sorted(expected)
    kinds = {path: kind for kind, path in expected}
    assert kinds["/x"] == "A" and kinds["/srv/new/f"] == "A" and kinds["/etc/passwd"] == "C"
    assert kinds["/etc/nsswitch.conf"] == "D" and kinds["/var/www"] == "D"
    assert body["counts"] == {"added": sum(k == "A" for k, _ in expected), "changed": sum(k == "C" for k, _ in expected),
                              "deleted": sum(k == "D" for k, _ in expected), "total": len(expected)}
    only_deleted = admin_client.get(url, {"kind": "D"}).json()
    assert {c["path"] for c in only_deleted["changes"]} == {"/etc/nsswitch.conf", "/var/www"}
    assert only_deleted["counts"]["total"] == len(expected)  # counts stay whole
    assert [c["path"] for c in admin_client.get(url, {"q": "SRV"}).json()["changes"]] == ["/srv", "/srv/new", "/srv/new/f"]
    gone = admin_client.get(reverse("api-container-changes", kwargs={"eid": endpoint.pk, "cid": "nonesuch"}))
    assert gone.status_code == 404 and "nonesuch" in gone.json()["error"]["message"]


def test_an_untouched_container_has_no_changes(admin_client, endpoint, run_busybox, docker) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("sleep", "60")
    assert docker_diff(docker, cid) == []
    body = admin_client.get(reverse("api-container-changes", kwargs={"eid": endpoint.pk, "cid": cid})).json()
    assert body["changes"] == [] and body["counts"]["total"] == 0


def test_the_changes_tab_shows_counts_and_filters_the_list(admin_client, endpoint, run_busybox, docker) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("sleep", "60")
    page = admin_client.get(reverse("containers:detail", kwargs={"eid": endpoint.pk, "cid": cid[:12]})).content.decode()
    panel_url = reverse("containers:detail-changes", kwargs={"eid": endpoint.pk, "cid": cid[:12]})
    lazy = reverse("containers:detail-changes", kwargs={"eid": endpoint.pk, "cid": cid})
    assert 'id="tab-changes"' in page and f'hx-get="{lazy}"' in page  # loaded when the tab shows
    empty = admin_client.get(panel_url).content.decode()
    assert "No changes" in empty

    docker("exec", cid, "sh", "-c", PATCH_IN_PLACE, check=True)
    total = len(docker_diff(docker, cid))
    panel = admin_client.get(panel_url).content.decode()
    assert f'<span class="stat-value">{total}</span>' in panel and "snowflake" in panel
    assert panel.count("<tr data-kind=") == total
    assert '<td class="mono small changes-path">/etc/nsswitch.conf</td>' in panel
    deleted = admin_client.get(panel_url, {"kind": "D", "q": "nss"}).content.decode()
    assert deleted.count("<tr data-kind=") == 1 and f"1 of {total} changes match" in deleted
    none = admin_client.get(panel_url, {"q": "no-such-path"}).content.decode()
    assert "No change matches" in none


def test_a_snowflake_mark_appears_after_a_change_made_with_exec(admin_client, endpoint, run_busybox, docker) -> None:  # type: ignore[no-untyped-def]
    patched = run_busybox("sleep", "60")
    clean = run_busybox("sleep", "60")
    stopped = docker("create", "busybox", "true", check=True).out
    list_url = reverse("containers:list", kwargs={"eid": endpoint.pk})

    refresh_drift.apply(kwargs={"endpoint_ids": [endpoint.pk]})
    body = admin_client.get(list_url).content.decode()
    assert "data-snowflake" not in body

    docker("exec", patched, "touch", "/x", check=True)
    result = refresh_drift.apply(kwargs={"endpoint_ids": [endpoint.pk]}).get()
    assert result == {endpoint.name: 1}
    body = admin_client.get(list_url).content.decode()
    row = body[body.index(f'data-id="{patched}"'):]
    row = row[:row.index("</tr>")]
    assert "data-snowflake" in row and "snowflake · 1" in row and "1 file changed outside the image: 1 added" in row
    assert f'href="/endpoints/{endpoint.pk}/containers/{patched[:12]}/#changes"' in row
    assert body.count("data-snowflake") == 1  # not the clean one, nor the stopped one
    counts = drift.load(endpoint.pk)
    assert set(counts) == {patched, clean} and counts[patched].total == 1 and counts[clean].total == 0
    assert stopped not in counts


def test_the_list_stays_fast_and_whole_without_redis(admin_client, endpoint, run_busybox, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("sleep", "60")
    with override_settings(REDIS_URL=f"unix://{tmp_path}/nobody.sock"):
        started = time.monotonic()
        response = admin_client.get(reverse("containers:list", kwargs={"eid": endpoint.pk}))
        took = time.monotonic() - started
    assert response.status_code == 200 and f'data-id="{cid}"' in response.content.decode()
    assert took < 1.5


def test_reading_200_marks_costs_the_list_a_few_milliseconds() -> None:
    marks = {f"{i:064x}": drift.Drift(count([Change(f"/f{i}", "A")]), round(time.time(), 3)) for i in range(200)}
    drift.save(999_999, marks)
    try:
        started = time.perf_counter()
        for _ in range(10):
            loaded = drift.load(999_999)
        per_read = (time.perf_counter() - started) / 10
    finally:
        drift.save(999_999, {})
    assert loaded == marks
    assert per_read < 0.015, f"{per_read * 1000:.1f} ms to read 200 marks"


def test_changes_parse_count_and_filter_like_docker() -> None:
    changes = parse_changes([{"Path": "/b", "Kind": 1}, {"Path": "/a", "Kind": 0}, {"Path": "/a/c", "Kind": 2}])
    assert changes == [Change("/a", "C"), Change("/a/c", "D"), Change("/b", "A")]
    assert parse_changes(None) == []
    assert count(changes).as_dict() == {"added": 1, "changed": 1, "deleted": 1, "total": 3}
    assert select(changes, q="/A") == changes[:2] and select(changes, kind="d") == [Change("/a/c", "D")]
    assert select(changes, kind="bogus") == changes
