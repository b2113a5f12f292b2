"""The container page's REST API: the log (download and tail), the stats history, rename; and its schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from console.accounts.tokens import issue_token
from rest_framework.test import APIClient

from console.audit.models import Activity
from console.metrics.models import StatsSample

pytestmark = [
    pytest.mark.django_db,
    # Django's test client collects the async stream Daphne would send as it comes, and says so.
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators"),
]


@pytest.fixture
def api(admin_user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(admin_user).key}")  # hashed tokens (console/accounts)
    return client


@pytest.fixture
def admin_user(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_user("api-boss", password="x" * 20, is_staff=True)


def body(response) -> bytes:  # type: ignore[no-untyped-def]
    """The streamed body (an async iterator, as Daphne serves it; Django's test client collects it)."""
    return b"".join(response)


def url(ep, cid: str, tail: str) -> str:  # type: ignore[no-untyped-def]
    return f"/api/endpoints/{ep.pk}/containers/{cid}/{tail}"


def test_the_log_downloads_as_a_file_without_frame_headers(api, endpoint, run_busybox, docker) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("sh", "-c", "for i in $(seq 1 3000); do echo line $i; done; echo oops >&2", name="page-logs")
    docker("wait", cid)
    response = api.get(url(endpoint, cid, "logs/?download=1"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response["Content-Disposition"].startswith('attachment; filename="page-logs-')
    text = body(response).decode()
    lines = text.splitlines()
    assert [x for x in lines if not x.startswith("line ")] == ["oops"], [x for x in lines if not x.startswith("line ")]
    assert lines[0] == "line 1" and len(lines) == 3001


def test_the_log_tail_and_stream_choice(api, endpoint, run_busybox, docker) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("sh", "-c", "echo out1; echo out2; sleep 0.2; echo err1 >&2")
    docker("wait", cid)
    # As Docker does: the tail counts lines of both streams, then stderr is left out.
    assert body(api.get(url(endpoint, cid, "logs/?tail=2&stderr=0"))).decode() == "out2\n"
    stamped = body(api.get(url(endpoint, cid, "logs/?stdout=0&timestamps=1"))).decode()
    assert stamped.endswith(" err1\n") and stamped.startswith("20")
    response = api.get(url(endpoint, cid, "logs/?tail=many"))
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"tail": ["write a number of lines or all"]}
    assert api.get(url(endpoint, "no-such-container", "logs/")).status_code == 404


def test_the_stats_history_is_the_last_hour_of_samples(api, endpoint, run_busybox) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("sleep", "600")
    now = datetime.now(UTC)
    for minutes in (90, 30, 1):
        StatsSample.objects.create(endpoint=endpoint, container_id=cid, taken_at=now - timedelta(minutes=minutes),
                                   cpu=minutes, mem=1000, mem_limit=4000)
    response = api.get(url(endpoint, cid[:12], "stats/history/"))
    assert response.status_code == 200
    data = response.json()
    assert data["container"] == cid and data["interval"] == 10
    assert [p["cpu"] for p in data["points"]] == [30, 1]
    assert data["points"][0]["mem_pct"] == 25.0
    assert [p["cpu"] for p in api.get(url(endpoint, cid, "stats/history/?minutes=5")).json()["points"]] == [1]


def test_rename_through_the_api(api, endpoint, run_busybox) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("sleep", "600", name="api-old")
    run_busybox("sleep", "600", name="api-taken")
    response = api.post(url(endpoint, cid, "rename/"), {"name": "api-new"}, format="json")
    assert response.status_code == 200 and response.json() == {"id": cid, "name": "api-new"}
    response = api.post(url(endpoint, cid, "rename/"), {"name": "-bad"}, format="json")
    assert response.status_code == 400 and "name" in response.json()["error"]["fields"]
    response = api.post(url(endpoint, cid, "rename/"), {"name": "api-taken"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["message"]
    assert Activity.objects.filter(action="container.rename").count() == 3


def test_the_api_needs_an_administrator(endpoint, run_busybox, django_user_model) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("sleep", "600")
    client = APIClient()
    assert client.get(url(endpoint, cid, "logs/")).status_code in (401, 403)
    client.force_authenticate(django_user_model.objects.create_user("pleb", password="x" * 20))
    assert client.get(url(endpoint, cid, "stats/history/")).status_code == 403
    assert client.post(url(endpoint, cid, "rename/"), {"name": "x"}).status_code == 403


def test_the_schema_documents_the_routes(api) -> None:  # type: ignore[no-untyped-def]
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    logs = paths["/api/endpoints/{eid}/containers/{cid}/logs/"]["get"]
    assert {p["name"] for p in logs["parameters"]} >= {"tail", "since", "timestamps", "stdout", "stderr", "download"}
    assert "text/plain" in logs["responses"]["200"]["content"]
    history = paths["/api/endpoints/{eid}/containers/{cid}/stats/history/"]["get"]["responses"]["200"]
    ref = history["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "points" in schema["components"]["schemas"][ref]["properties"]
    assert "post" in paths["/api/endpoints/{eid}/containers/{cid}/rename/"]
