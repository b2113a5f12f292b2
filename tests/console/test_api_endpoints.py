"""/api/endpoints/: CRUD, the write-only TLS key, the protected local endpoint, status and test, errors, audit."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from console.audit.models import Activity
from console.endpoints.models import LOCAL_ENDPOINT, Endpoint
from tests.support.pki import Pki, make_pki

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


@pytest.fixture
def api(admin_user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


def test_it_lists_endpoints(api) -> None:  # type: ignore[no-untyped-def]
    response = api.get("/api/endpoints/")
    assert response.status_code == 200
    local = next(e for e in response.json() if e["name"] == LOCAL_ENDPOINT)
    assert local["is_local"] is True and local["has_tls_key"] is False
    assert "tls_key" not in local


def test_it_creates_reads_updates_and_deletes(api, pki) -> None:  # type: ignore[no-untyped-def]
    created = api.post("/api/endpoints/", {"name": "remote", "url": "tcp://127.0.0.1:2376", "tls_ca": pki.ca,
                                           "tls_cert": pki.cert, "tls_key": pki.key}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["has_tls_key"] is True and body["uses_tls"] is True and "tls_key" not in body
    eid = body["id"]

    shown = api.get(f"/api/endpoints/{eid}/")
    assert "tls_key" not in shown.json() and "PRIVATE KEY" not in shown.content.decode()

    # PATCH without a key keeps the stored key.
    patched = api.patch(f"/api/endpoints/{eid}/", {"url": "tcp://127.0.0.1:2377"}, format="json")
    assert patched.status_code == 200 and patched.json()["has_tls_key"] is True
    assert Endpoint.objects.get(pk=eid).tls_key.strip() == pki.key.strip()

    # Clearing the certificate clears the key too.
    cleared = api.patch(f"/api/endpoints/{eid}/", {"tls_ca": "", "tls_cert": ""}, format="json")
    assert cleared.status_code == 200 and cleared.json()["has_tls_key"] is False
    assert Endpoint.objects.get(pk=eid).tls_key == ""

    assert api.delete(f"/api/endpoints/{eid}/").status_code == 204
    assert not Endpoint.objects.filter(pk=eid).exists()

    actions = list(Activity.objects.order_by("created_at").values_list("action", "outcome"))
    assert actions == [("endpoint.create", "success"), ("endpoint.update", "success"),
                       ("endpoint.update", "success"), ("endpoint.delete", "success")]
    for entry in Activity.objects.all():
        assert "PRIVATE KEY" not in str(entry.details)


def test_bad_input_gets_field_errors_in_one_shape(api) -> None:  # type: ignore[no-untyped-def]
    response = api.post("/api/endpoints/", {"name": "bad name", "url": "http://host:2375"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == 400
    assert error["message"].startswith("invalid input")
    assert set(error["fields"]) == {"name", "url"}
    assert "tcp://host:port" in error["fields"]["url"][0]
    entry = Activity.objects.get()
    assert (entry.action, entry.outcome, entry.details["fields"]) == ("endpoint.create", "failure", ["name", "url"])


def test_tls_problems_are_field_errors(api, pki) -> None:  # type: ignore[no-untyped-def]
    unix = api.post("/api/endpoints/", {"name": "u", "url": "unix:///run/x.sock", "tls_cert": pki.cert, "tls_key": pki.key}, format="json")
    assert "tls_cert" in unix.json()["error"]["fields"]
    mismatch = api.post("/api/endpoints/", {"name": "m", "url": "tcp://h:1", "tls_cert": pki.cert, "tls_key": pki.other_key}, format="json")
    assert "does not belong" in mismatch.json()["error"]["fields"]["tls_key"][0]


def test_the_local_endpoint_is_protected(api) -> None:  # type: ignore[no-untyped-def]
    local = Endpoint.objects.get(name=LOCAL_ENDPOINT)
    response = api.delete(f"/api/endpoints/{local.pk}/")
    assert response.status_code == 409
    assert response.json() == {"error": {"status": 409, "message": "The local endpoint is the engine on this host; it cannot be removed."}}
    assert Endpoint.objects.filter(pk=local.pk).exists()
    renamed = api.patch(f"/api/endpoints/{local.pk}/", {"name": "mine"}, format="json")
    assert renamed.status_code == 400 and "name" in renamed.json()["error"]["fields"]
    outcomes = set(Activity.objects.values_list("action", "outcome"))
    assert outcomes == {("endpoint.delete", "failure"), ("endpoint.update", "failure")}


def test_status_probes_a_real_engine(api, engine) -> None:  # type: ignore[no-untyped-def]
    endpoint = Endpoint.objects.create(name="berth", url=engine.host)
    status = api.get(f"/api/endpoints/{endpoint.pk}/status/").json()
    assert status["reachable"] is True and status["error"] == ""
    assert status["platform"] == "Berth Engine" and status["api_version"]
    assert status["images"] >= 1 and status["cpus"] >= 1 and status["memory"] > 0


def test_status_of_an_unreachable_engine(api) -> None:  # type: ignore[no-untyped-def]
    endpoint = Endpoint.objects.create(name="refusing", url="tcp://127.0.0.1:1")
    status = api.get(f"/api/endpoints/{endpoint.pk}/status/").json()
    assert status["reachable"] is False and "Connection refused" in status["error"]


def test_test_probes_without_saving(api, engine) -> None:  # type: ignore[no-untyped-def]
    response = api.post("/api/endpoints/test/", {"url": engine.host}, format="json")
    assert response.status_code == 200 and response.json()["reachable"] is True
    assert response.json()["endpoint"] is None
    assert api.post("/api/endpoints/test/", {"url": "nope"}, format="json").status_code == 400
    assert not Activity.objects.exists() and Endpoint.objects.count() == 1


def test_anonymous_callers_get_401_and_non_admins_403(django_user_model) -> None:  # type: ignore[no-untyped-def]
    anonymous = APIClient()
    response = anonymous.get("/api/endpoints/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["error"]["status"] == 401

    bob = django_user_model.objects.create_user("bob", password="x" * 16)
    client = APIClient()
    client.force_authenticate(bob)
    assert client.get("/api/endpoints/").status_code == 403
    refused = client.post("/api/endpoints/", {"name": "x", "url": "tcp://h:1"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "Only administrators may use the console API."
    entry = Activity.objects.get()
    assert (entry.action, entry.outcome, entry.username) == ("access.denied", "denied", "bob")
