"""The activity log page: newest first, filters by user, action, outcome, endpoint and text."""

from __future__ import annotations

import pytest

from console.audit.log import record
from console.audit.models import Activity

pytestmark = pytest.mark.django_db


@pytest.fixture
def entries(django_user_model) -> None:  # type: ignore[no-untyped-def]
    class Request:
        META = {"REMOTE_ADDR": "127.0.0.1"}

        def __init__(self, user) -> None:  # type: ignore[no-untyped-def]
            self.user = user

    dora = django_user_model.objects.create_user("dora", password="x" * 16)
    alice = django_user_model.objects.create_user("alice", password="x" * 16)
    record(Request(dora), "endpoint.create", "remote", endpoint="remote", url="tcp://h:1")
    record(Request(alice), "container.start", "web", Activity.FAILURE, "no such image", endpoint="local")
    record(Request(alice), "container.stop", "web", endpoint="local", token="secret-value")


def rows(response) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    return [(a.username, a.action, a.outcome) for a in response.context["page"].object_list]


def test_it_lists_newest_first_with_details(admin_client, entries) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.get("/activity/")
    assert rows(response) == [("alice", "container.stop", "success"), ("alice", "container.start", "failure"),
                              ("dora", "endpoint.create", "success")]
    body = response.content.decode()
    assert "no such image" in body and "secret-value" not in body
    assert "&quot;url&quot;: &quot;tcp://h:1&quot;" in body  # parameters, pretty-printed


@pytest.mark.parametrize("query, expected", [
    ("user=dora", [("dora", "endpoint.create", "success")]),
    ("action=container.", [("alice", "container.stop", "success"), ("alice", "container.start", "failure")]),
    ("action=container.stop", [("alice", "container.stop", "success")]),
    ("outcome=failure", [("alice", "container.start", "failure")]),
    ("endpoint=remote", [("dora", "endpoint.create", "success")]),
    ("q=image", [("alice", "container.start", "failure")]),
    ("user=alice&outcome=success", [("alice", "container.stop", "success")]),
])
def test_it_filters(admin_client, entries, query, expected) -> None:  # type: ignore[no-untyped-def]
    assert rows(admin_client.get(f"/activity/?{query}")) == expected


def test_the_filters_offer_what_the_log_holds(admin_client, entries) -> None:  # type: ignore[no-untyped-def]
    context = admin_client.get("/activity/").context
    assert context["users"] == ["alice", "dora"]
    assert context["action_groups"] == ["container.", "endpoint."]
    assert context["endpoint_names"] == ["local", "remote"]


def test_empty_states(admin_client, entries) -> None:  # type: ignore[no-untyped-def]
    assert "Nothing matches these filters" in admin_client.get("/activity/?user=nobody").content.decode()
    Activity.objects.all()._raw_delete("default")  # the log is append-only for the application (console/audit/models.py)
    assert "No activity yet" in admin_client.get("/activity/").content.decode()


def test_pages_keep_the_filters(admin_client, admin_user) -> None:  # type: ignore[no-untyped-def]
    class Request:
        META: dict = {}
        user = admin_user

    for i in range(60):
        record(Request(), "container.start", f"c{i}", endpoint="local")
    body = admin_client.get("/activity/?outcome=success").content.decode()
    assert "?outcome=success&amp;page=2" in body
