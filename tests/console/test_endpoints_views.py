"""Endpoint pages: the list and its rows, add / edit / test / remove, TLS write-only, access, audit."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from console.audit.models import Activity
from console.endpoints.models import LOCAL_ENDPOINT, Endpoint
from tests.support.pki import Pki, make_pki

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


def form_data(**overrides: str) -> dict[str, str]:
    data = {"name": "remote", "url": "tcp://127.0.0.1:2376", "tls_ca": "", "tls_cert": "", "tls_key": ""}
    data.update(overrides)
    return data


def test_it_lists_endpoints_with_rows_that_load_themselves(admin_client) -> None:  # type: ignore[no-untyped-def]
    Endpoint.objects.create(name="remote", url="tcp://127.0.0.1:1")
    response = admin_client.get("/endpoints/")
    body = response.content.decode()
    assert response.status_code == 200
    for endpoint in Endpoint.objects.all():
        assert f'hx-get="/endpoints/{endpoint.pk}/row/"' in body
    assert 'href="/endpoints/add/"' in body


def test_a_row_shows_a_live_engine(admin_client, engine) -> None:  # type: ignore[no-untyped-def]
    endpoint = Endpoint.objects.create(name="berth", url=engine.host)
    response = admin_client.get(f"/endpoints/{endpoint.pk}/row/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Reachable" in body and "Berth Engine" in body
    status = response.context["status"]
    assert status.up and status.images >= 1 and status.networks >= 3 and status.cpus >= 1 and status.memory > 0
    assert "hx-get" not in body  # a loaded row does not load again


def test_a_row_says_why_an_engine_is_unreachable(admin_client) -> None:  # type: ignore[no-untyped-def]
    endpoint = Endpoint.objects.create(name="refusing", url="tcp://127.0.0.1:1")
    body = admin_client.get(f"/endpoints/{endpoint.pk}/row/").content.decode()
    assert "Unreachable" in body
    assert "Cannot reach the engine at tcp://127.0.0.1:1: Connection refused." in body


def test_it_adds_an_endpoint_and_records_it(admin_client, admin_user, tmp_path) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.post("/endpoints/add/", form_data(name="other", url=f"unix://{tmp_path}/e.sock"))
    assert response.status_code == 302 and response["Location"] == "/endpoints/"
    endpoint = Endpoint.objects.get(name="other")
    assert endpoint.url == f"unix://{tmp_path}/e.sock"
    entry = Activity.objects.get(action="endpoint.create")
    assert (entry.target, entry.outcome, entry.username, entry.endpoint) == ("other", "success", admin_user.username, "other")


@pytest.mark.parametrize("url", ["http://host:2375", "tcp://host", "unix://relative.sock", "/run/engine.sock"])
def test_it_rejects_bad_urls_with_a_field_error(admin_client, url) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.post("/endpoints/add/", form_data(url=url))
    assert response.status_code == 400
    assert "url" in response.context["form"].errors
    body = response.content.decode()
    assert 'id="id_url_error"' in body and 'aria-invalid="true"' in body
    assert not Endpoint.objects.filter(name="remote").exists()
    entry = Activity.objects.get(action="endpoint.create")
    assert entry.outcome == "failure" and entry.details["fields"] == ["url"]


def test_it_rejects_a_duplicate_or_malformed_name(admin_client) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.post("/endpoints/add/", form_data(name=LOCAL_ENDPOINT))
    assert "name" in response.context["form"].errors
    response = admin_client.post("/endpoints/add/", form_data(name="has space"))
    assert "name" in response.context["form"].errors


def test_it_refuses_tls_for_a_unix_socket(admin_client, pki) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.post("/endpoints/add/", form_data(url="unix:///run/x.sock", tls_cert=pki.cert, tls_key=pki.key))
    assert response.status_code == 400
    assert "only used with tcp://" in " ".join(response.context["form"].errors["tls_cert"])


def test_it_checks_pem_texts_and_that_the_key_fits(admin_client, pki) -> None:  # type: ignore[no-untyped-def]
    errors = admin_client.post("/endpoints/add/", form_data(tls_cert="nonsense", tls_key=pki.key)).context["form"].errors
    assert "Not a PEM certificate" in errors["tls_cert"][0]
    errors = admin_client.post("/endpoints/add/", form_data(tls_cert=pki.cert)).context["form"].errors
    assert "private key" in errors["tls_key"][0]
    errors = admin_client.post("/endpoints/add/", form_data(tls_cert=pki.cert, tls_key=pki.other_key)).context["form"].errors
    assert "does not belong" in errors["tls_key"][0]


def test_the_tls_key_is_write_only(admin_client, pki) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.post("/endpoints/add/", form_data(tls_ca=pki.ca, tls_cert=pki.cert, tls_key=pki.key))
    assert response.status_code == 302, response.context and response.context["form"].errors
    endpoint = Endpoint.objects.get(name="remote")
    assert endpoint.tls_key.strip() == pki.key.strip() and endpoint.uses_tls

    page = admin_client.get(f"/endpoints/{endpoint.pk}/edit/").content.decode()
    key_body = pki.key.strip().splitlines()[1]
    assert key_body not in page
    assert "A key is stored" in page
    assert pki.cert.strip().splitlines()[1] in page  # the certificate is not secret

    # Saving with the key left empty keeps it; nothing about it reaches the activity log.
    response = admin_client.post(f"/endpoints/{endpoint.pk}/edit/", form_data(tls_ca=pki.ca, tls_cert=pki.cert))
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.tls_key.strip() == pki.key.strip()
    for entry in Activity.objects.all():
        assert key_body not in str(entry.details) and key_body not in entry.message


def test_it_accepts_pem_uploads_and_can_remove_tls(admin_client, pki) -> None:  # type: ignore[no-untyped-def]
    data = {**form_data(), "tls_cert_file": SimpleUploadedFile("cert.pem", pki.cert.encode()),
            "tls_key_file": SimpleUploadedFile("key.pem", pki.key.encode())}
    assert admin_client.post("/endpoints/add/", data).status_code == 302
    endpoint = Endpoint.objects.get(name="remote")
    assert endpoint.uses_tls
    response = admin_client.post(f"/endpoints/{endpoint.pk}/edit/", form_data(tls_cert=pki.cert, clear_tls="on"))
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.tls_ca, endpoint.tls_cert, endpoint.tls_key) == ("", "", "")
    assert Activity.objects.filter(action="endpoint.update", outcome="success").count() == 1


def test_the_local_endpoint_keeps_its_name_and_url(admin_client, settings) -> None:  # type: ignore[no-untyped-def]
    local = Endpoint.objects.get(name=LOCAL_ENDPOINT)
    response = admin_client.post(f"/endpoints/{local.pk}/edit/", form_data(name="renamed", url="tcp://1.2.3.4:2376"))
    assert response.status_code == 302
    local.refresh_from_db()
    assert (local.name, local.url) == (LOCAL_ENDPOINT, settings.BERTH_ENGINE_HOST)


def test_the_local_endpoint_cannot_be_removed(admin_client) -> None:  # type: ignore[no-untyped-def]
    local = Endpoint.objects.get(name=LOCAL_ENDPOINT)
    page = admin_client.get(f"/endpoints/{local.pk}/delete/").content.decode()
    assert "cannot be removed" in page and 'type="submit"' not in page.split('id="main"')[1]
    response = admin_client.post(f"/endpoints/{local.pk}/delete/")
    assert response.status_code == 302
    assert Endpoint.objects.filter(name=LOCAL_ENDPOINT).exists()
    entry = Activity.objects.get(action="endpoint.delete")
    assert entry.outcome == "failure" and "cannot be removed" in entry.message


def test_it_removes_an_endpoint_after_confirmation(admin_client) -> None:  # type: ignore[no-untyped-def]
    endpoint = Endpoint.objects.create(name="old", url="tcp://127.0.0.1:1")
    assert "Remove old?" in admin_client.get(f"/endpoints/{endpoint.pk}/delete/").content.decode()
    assert Endpoint.objects.filter(pk=endpoint.pk).exists()  # GET only asks
    assert admin_client.post(f"/endpoints/{endpoint.pk}/delete/").status_code == 302
    assert not Endpoint.objects.filter(pk=endpoint.pk).exists()
    entry = Activity.objects.get(action="endpoint.delete")
    assert (entry.target, entry.outcome) == ("old", "success")


def test_test_connection_probes_without_saving(admin_client, engine) -> None:  # type: ignore[no-untyped-def]
    data = {**form_data(name="trial", url=engine.host), "action": "test"}
    response = admin_client.post("/endpoints/add/", data, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Connected to Berth Engine" in body and "<html" not in body
    assert not Endpoint.objects.filter(name="trial").exists()
    assert not Activity.objects.exists()  # a test changes nothing


def test_test_connection_reports_failures_and_field_errors(admin_client) -> None:  # type: ignore[no-untyped-def]
    data = {**form_data(url="tcp://127.0.0.1:1"), "action": "test"}
    body = admin_client.post("/endpoints/add/", data, HTTP_HX_REQUEST="true").content.decode()
    assert "does not answer" in body and "Connection refused" in body
    body = admin_client.post("/endpoints/add/", {**data, "url": "ftp://x"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Not tested: fix these first." in body
    # Without htmx the whole form comes back, with the result in it.
    response = admin_client.post("/endpoints/add/", data)
    assert "does not answer" in response.content.decode() and "<form" in response.content.decode()


def test_the_sidebar_switch_remembers_the_endpoint(admin_client) -> None:  # type: ignore[no-untyped-def]
    other = Endpoint.objects.create(name="other", url="tcp://127.0.0.1:1")
    response = admin_client.get(f"/endpoints/switch/?eid={other.pk}")
    assert response["Location"] == f"/endpoints/{other.pk}/"
    assert admin_client.get("/")["Location"] == f"/endpoints/{other.pk}/"


@pytest.mark.parametrize("path", ["/endpoints/", "/endpoints/add/", "/activity/", "/users/"])  # /account/token/: every user's own
def test_pages_need_an_administrator(client, django_user_model, path) -> None:  # type: ignore[no-untyped-def]
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
    client.force_login(django_user_model.objects.create_user("bob", password="x" * 16))
    assert client.get(path).status_code == 403


def test_a_refused_change_is_recorded(client, django_user_model) -> None:  # type: ignore[no-untyped-def]
    client.force_login(django_user_model.objects.create_user("bob", password="x" * 16))
    assert client.post("/endpoints/add/", form_data()).status_code == 403
    entry = Activity.objects.get()
    assert (entry.action, entry.outcome, entry.username, entry.target) == ("access.denied", "denied", "bob", "/endpoints/add/")


def test_htmx_requests_of_a_signed_out_page_redirect_to_login(client) -> None:  # type: ignore[no-untyped-def]
    local = Endpoint.objects.get(name=LOCAL_ENDPOINT)
    response = client.get(f"/endpoints/{local.pk}/stats/", HTTP_HX_REQUEST="true",
                          HTTP_HX_CURRENT_URL=f"http://testserver/endpoints/{local.pk}/")
    assert response.status_code == 401
    assert response["HX-Redirect"] == f"/login/?next=%2Fendpoints%2F{local.pk}%2F"
