"""The notification rules REST API: create (validated like the form), list, change, test, delete, sent."""

from __future__ import annotations

import pytest

from console.notifications.models import Rule

pytestmark = pytest.mark.django_db


def test_rules_through_the_api(admin_client, endpoint) -> None:  # type: ignore[no-untyped-def]
    base = f"/api/endpoints/{endpoint.pk}/notifications/"
    bad = admin_client.post(f"{base}rules/", {"name": "r", "channel": "webhook", "webhook_url": "gopher://127.0.0.1/"},
                            content_type="application/json")
    assert bad.status_code == 400 and "http:// or https://" in bad.json()["error"]["fields"]["webhook_url"][0]
    assert not Rule.objects.exists()

    made = admin_client.post(f"{base}rules/", {"name": "loop", "kind": "restart_loop", "restart_count": 4, "restart_window": 2,
                                               "label_filter": {"env": "prod"}, "webhook_url": "http://127.0.0.1:9/x"},
                             content_type="application/json")
    assert made.status_code == 201, made.content
    rule = made.json()
    assert rule["label_filter"] == {"env": "prod"} and rule["enabled"] is True and rule["restart_count"] == 4
    assert [r["name"] for r in admin_client.get(f"{base}rules/").json()] == ["loop"]

    changed = admin_client.put(f"{base}rules/{rule['id']}/", {**rule, "enabled": False, "channel": "email",
                                                              "email_to": "ops@example.com"}, content_type="application/json")
    assert changed.status_code == 200 and changed.json()["enabled"] is False and changed.json()["channel"] == "email"

    tested = admin_client.post(f"{base}rules/{rule['id']}/test/")
    assert tested.status_code == 200 and tested.json()["test"] is True and tested.json()["status"] in ("sent", "failed")
    assert admin_client.get(f"{base}sent/").json()[0]["id"] == tested.json()["id"]
    assert admin_client.delete(f"{base}rules/{rule['id']}/").status_code == 204
    assert admin_client.get(f"{base}rules/{rule['id']}/").status_code == 404
