"""The activity log as an audit trail: append-only, filterable by source address, endpoint, resource and
outcome, exportable as CSV (formula-safe), read-only in Django's admin."""

from __future__ import annotations

import csv
import io
from types import SimpleNamespace

import pytest

from console.audit.log import record
from console.audit.models import Activity, AppendOnly

pytestmark = pytest.mark.django_db


def _as(user, address: str) -> SimpleNamespace:  # type: ignore[no-untyped-def]
    return SimpleNamespace(user=user, META={"REMOTE_ADDR": address})


@pytest.fixture
def entries(admin_user):  # type: ignore[no-untyped-def]
    record(_as(admin_user, "10.1.2.3"), "container.stop", "web", Activity.SUCCESS, "", "prod", id="abc123")
    record(_as(admin_user, "10.9.9.9"), "container.create", "=cmd|' /C calc'!A0", Activity.DENIED, "privileged mode", "lab")
    record(_as(None, "192.0.2.1"), "login.failure", "mallory", Activity.FAILURE, "wrong username or password")


def test_entries_cannot_be_changed_or_removed(entries) -> None:  # type: ignore[no-untyped-def]
    entry = Activity.objects.first()
    entry.message = "rewritten"
    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete()
    with pytest.raises(AppendOnly):
        Activity.objects.filter(action="login.failure").update(outcome=Activity.SUCCESS)
    with pytest.raises(AppendOnly):
        Activity.objects.all().delete()
    assert Activity.objects.count() == 3


def test_the_admin_site_shows_it_read_only(admin_client, entries) -> None:  # type: ignore[no-untyped-def]
    entry = Activity.objects.first()
    assert admin_client.get("/admin/audit/activity/").status_code == 200
    assert admin_client.get("/admin/audit/activity/add/").status_code == 403
    assert admin_client.post(f"/admin/audit/activity/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Activity.objects.filter(pk=entry.pk).exists()


@pytest.mark.parametrize("query, targets", [
    ("ip=10.1.", {"web"}),
    ("endpoint=lab", {"=cmd|' /C calc'!A0"}),
    ("outcome=denied", {"=cmd|' /C calc'!A0"}),
    ("resource=abc123", {"web"}),
    ("action=login.", {"mallory"}),
    ("since=2000-01-01&until=2999-12-31", {"web", "mallory", "=cmd|' /C calc'!A0"}),
    ("since=2999-01-01", set()),
    ("until=2024-02-31", {"web", "mallory", "=cmd|' /C calc'!A0"}),  # not a date: ignored
])
def test_filters(admin_client, entries, query, targets) -> None:  # type: ignore[no-untyped-def]
    page = admin_client.get(f"/activity/?{query}")
    assert page.status_code == 200
    shown = {a.target for a in page.context["page"].object_list}
    assert shown == targets


def test_the_csv_export_keeps_the_filters_and_defuses_formulas(admin_client, entries) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.get("/activity/export.csv?outcome=denied")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["created_at", "username", "remote_addr", "endpoint"]
    assert len(rows) == 2 and rows[1][2] == "10.9.9.9" and rows[1][5] == "'=cmd|' /C calc'!A0"
    assert Activity.objects.filter(action="activity.export").exists()  # exporting is itself recorded


def test_only_administrators_read_or_export_it(client, django_user_model, entries) -> None:  # type: ignore[no-untyped-def]
    client.force_login(django_user_model.objects.create_user("eve"))
    assert client.get("/activity/").status_code == 403
    assert client.get("/activity/export.csv").status_code == 403
