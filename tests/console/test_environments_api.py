"""/api/environments/: CRUD, membership through `endpoints`, errors in the API's shape, audit, access."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from console.audit.models import Activity
from console.endpoints.models import LOCAL_ENDPOINT, Endpoint, Environment

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(admin_user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


def test_it_creates_lists_changes_and_removes_environments(api) -> None:  # type: ignore[no-untyped-def]
    local = Endpoint.objects.get(name=LOCAL_ENDPOINT)
    a = Endpoint.objects.create(name="a", url="tcp://127.0.0.1:1")
    created = api.post("/api/environments/", {"name": "production", "description": "live", "endpoints": [a.pk]}, format="json")
    assert created.status_code == 201, created.json()
    env = created.json()
    assert (env["name"], env["endpoints"]) == ("production", [a.pk])
    assert api.get("/api/environments/").json() == [env]
    moved = api.patch(f"/api/environments/{env['id']}/", {"endpoints": [local.pk]}, format="json")
    assert moved.status_code == 200 and moved.json()["endpoints"] == [local.pk]
    a.refresh_from_db()
    local.refresh_from_db()
    assert a.environment is None and local.environment_id == env["id"]
    assert api.delete(f"/api/environments/{env['id']}/").status_code == 204
    local.refresh_from_db()
    assert local.environment is None and not Environment.objects.exists()
    trail = list(Activity.objects.order_by("pk").values_list("action", "outcome"))
    assert trail == [("environment.create", "success"), ("environment.update", "success"), ("environment.delete", "success")]
    assert Activity.objects.order_by("pk").last().details == {"endpoints": [LOCAL_ENDPOINT], "via": "api"}


def test_bad_input_is_a_field_error_and_recorded(api) -> None:  # type: ignore[no-untyped-def]
    Environment.objects.create(name="production")
    response = api.post("/api/environments/", {"name": "Production", "endpoints": [999999]}, format="json")
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"name", "endpoints"} and "exists already" in fields["name"][0]
    entry = Activity.objects.get()
    assert (entry.action, entry.outcome, entry.details["fields"]) == ("environment.create", "failure", ["endpoints", "name"])


def test_non_admins_are_refused(django_user_model) -> None:  # type: ignore[no-untyped-def]
    assert APIClient().get("/api/environments/").status_code == 401
    bob = django_user_model.objects.create_user("bob", password="x" * 16)
    client = APIClient()
    client.force_authenticate(bob)
    assert client.get("/api/environments/").status_code == 403
    assert client.post("/api/environments/", {"name": "x"}, format="json").status_code == 403
    assert not Environment.objects.exists()
