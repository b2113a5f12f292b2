"""Registry credentials: stored encrypted (the raw column never holds the password), never echoed back,
tested with "Test login", and used for pull and push against an htpasswd-protected docker-registry."""

from __future__ import annotations

import secrets
import shutil
import stat
from collections.abc import Iterator

import pytest
from django.db import connection

from console.audit.models import Activity
from console.jobs.framework import execute
from console.jobs.models import Job
from console.registries import crypto
from console.registries.models import RegistryCredential, auth_config_for
from console.registries.references import canonical_server, registry_of
from tests.support.registry import Registry, start_registry

pytestmark = pytest.mark.django_db(transaction=True)
needs_registry = pytest.mark.skipif(shutil.which("docker-registry") is None or shutil.which("htpasswd") is None,
                                    reason="docker-registry and apache2-utils' htpasswd are needed")
USER = "berth"


@pytest.fixture(scope="module")
def password() -> str:
    return "pw-" + secrets.token_urlsafe(12)


@pytest.fixture(scope="module")
def locked_registry(tmp_path_factory: pytest.TempPathFactory, password: str) -> Iterator[Registry]:
    if shutil.which("docker-registry") is None or shutil.which("htpasswd") is None:
        pytest.skip("docker-registry and apache2-utils' htpasswd are needed")
    reg = start_registry(tmp_path_factory.mktemp("locked-registry"), htpasswd=(USER, password))
    yield reg
    reg.stop()


def raw_secret(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM registries_registrycredential WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def run_job(response) -> Job:  # type: ignore[no-untyped-def]
    assert response.status_code == 302, response.content.decode()[:2000]
    job = Job.objects.get(pk=int(response["Location"].strip("/").split("/")[1]))
    execute(job.pk, job.dispatches)
    job.refresh_from_db()
    return job


def test_names_are_made_canonical() -> None:
    assert canonical_server("https://Registry.Example.com:5000/v2/") == "registry.example.com:5000"
    assert canonical_server("index.docker.io") == "docker.io"
    assert registry_of("busybox") == registry_of("library/busybox:1") == "docker.io"
    assert registry_of("127.0.0.1:5000/app:v1") == "127.0.0.1:5000" and registry_of("localhost/x") == "localhost"
    with pytest.raises(ValueError):
        canonical_server("not a host/path")


def test_the_password_is_encrypted_at_rest_with_a_private_key_file(admin_client) -> None:  # type: ignore[no-untyped-def]
    secret = "s3cret-" + secrets.token_hex(8)
    response = admin_client.post("/registries/new/", {"name": "Team registry", "server": "https://registry.example.com:5000/",
                                                      "username": "alice", "password": secret})
    assert response.status_code == 302
    item = RegistryCredential.objects.get()
    assert item.server == "registry.example.com:5000" and item.password() == secret
    raw = raw_secret(item.pk)
    assert secret not in raw and raw.startswith("gAAAA")  # a Fernet token
    key = crypto.key_file()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert auth_config_for("registry.example.com:5000/team/app:v1") == {
        "username": "alice", "password": secret, "serveraddress": "registry.example.com:5000"}
    assert auth_config_for("busybox") is None
    for page in ("/registries/", f"/registries/{item.pk}/edit/"):
        assert secret not in admin_client.get(page).content.decode()
    entry = Activity.objects.get(action="registry.create")
    assert secret not in str(entry.details) and entry.details["server"] == "registry.example.com:5000"


def test_an_empty_password_on_edit_keeps_the_stored_one_and_errors_are_per_field(admin_client) -> None:  # type: ignore[no-untyped-def]
    item = RegistryCredential(name="hub", server="docker.io", username="bob")
    item.set_password("first")
    item.save()
    response = admin_client.post(f"/registries/{item.pk}/edit/", {"name": "hub", "server": "docker.io", "username": "robert",
                                                                  "password": ""})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.username == "robert" and item.password() == "first"
    bad = admin_client.post("/registries/new/", {"name": "dup", "server": "index.docker.io", "username": "x", "password": "typed"})
    body = bad.content.decode()
    assert bad.status_code == 400 and "exist already" in body and "typed" not in body  # never echoed back
    assert admin_client.post("/registries/new/", {"name": "x", "server": "a.example", "username": "x"}).status_code == 400


def test_a_changed_key_file_makes_secrets_unreadable_not_fatal(admin_client, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    item = RegistryCredential(name="r", server="r.example", username="u")
    item.set_password("pw")
    item.save()
    settings.BERTH_CREDENTIALS_KEY_FILE = str(tmp_path / "other.key")
    with pytest.raises(crypto.SecretUnreadable, match="enter it again"):
        item.password()
    result = admin_client.post(f"/registries/{item.pk}/test/", HTTP_HX_REQUEST="true")
    assert result.status_code == 200 and "enter it again" in result.content.decode()


@needs_registry
def test_test_login_against_an_htpasswd_registry(admin_client, endpoint, locked_registry: Registry, password: str) -> None:  # type: ignore[no-untyped-def]
    admin_client.get(f"/endpoints/{endpoint.pk}/")  # the current endpoint: the one the test runs from
    good = admin_client.post("/registries/new/", {"name": "locked", "server": locked_registry.host, "username": USER,
                                                  "password": password, "action": "test"}, HTTP_HX_REQUEST="true")
    assert good.status_code == 200 and "Login Succeeded" in good.content.decode()
    assert not RegistryCredential.objects.exists()  # testing does not save
    wrong = admin_client.post("/registries/new/", {"name": "locked", "server": locked_registry.host, "username": USER,
                                                   "password": "wrong", "action": "test"}, HTTP_HX_REQUEST="true")
    assert "Login failed" in wrong.content.decode()
    admin_client.post("/registries/new/", {"name": "locked", "server": locked_registry.host, "username": USER, "password": password})
    item = RegistryCredential.objects.get()
    stored = admin_client.post(f"/registries/{item.pk}/test/", HTTP_HX_REQUEST="true")
    assert "Login Succeeded" in stored.content.decode()
    assert Activity.objects.filter(action="registry.test", outcome="success").count() == 2


@needs_registry
def test_stored_credentials_are_used_to_push_and_pull(admin_client, endpoint, locked_registry: Registry, password: str,
                                                      docker) -> None:  # type: ignore[no-untyped-def]
    tag = f"{locked_registry.host}/private/bb-{secrets.token_hex(3)}:v1"
    docker("tag", "busybox", tag, check=True)
    image = docker("image", "inspect", "-f", "{{.Id}}", tag, check=True).out.removeprefix("sha256:")[:12]
    try:
        anonymous = run_job(admin_client.post(f"/endpoints/{endpoint.pk}/images/{image}/push/", {"tag": tag}))
        assert anonymous.state == Job.FAILED and anonymous.error
        admin_client.post("/registries/new/", {"name": "locked", "server": locked_registry.host, "username": USER,
                                               "password": password})
        pushed = run_job(admin_client.post(f"/endpoints/{endpoint.pk}/images/{image}/push/", {"tag": tag}))
        assert pushed.state == Job.SUCCEEDED, pushed.error
        docker("rmi", tag, check=True)
        pulled = run_job(admin_client.post(f"/endpoints/{endpoint.pk}/images/pull/", {"image": tag}))
        assert pulled.state == Job.SUCCEEDED, pulled.error
        assert password not in pulled.log and password not in str(pulled.params)
        RegistryCredential.objects.all().delete()
        docker("rmi", tag, check=True)
        refused = run_job(admin_client.post(f"/endpoints/{endpoint.pk}/images/pull/", {"image": tag}))
        assert refused.state == Job.FAILED and refused.error
    finally:
        docker("rmi", "-f", tag)


def test_the_registries_api_never_returns_the_password(admin_client) -> None:  # type: ignore[no-untyped-def]
    created = admin_client.post("/api/registries/", {"name": "api", "server": "api.example:5000", "username": "u",
                                                     "password": "p4ss"}, content_type="application/json")
    assert created.status_code == 201 and "password" not in created.json() and "secret" not in created.json()
    rid = created.json()["id"]
    patched = admin_client.patch(f"/api/registries/{rid}/", {"username": "v"}, content_type="application/json")
    assert patched.status_code == 200 and patched.json()["username"] == "v"
    assert RegistryCredential.objects.get(pk=rid).password() == "p4ss"
    listed = admin_client.get("/api/registries/").json()
    assert [r["server"] for r in listed] == ["api.example:5000"] and "p4ss" not in str(listed)
    bad = admin_client.post("/api/registries/", {"name": "x", "server": "bad host", "username": "u"}, content_type="application/json")
    assert bad.status_code == 400 and set(bad.json()["error"]["fields"]) == {"server", "password"}
    assert admin_client.delete(f"/api/registries/{rid}/").status_code == 204
    assert not RegistryCredential.objects.exists()


def test_registries_need_an_administrator(client, django_user_model) -> None:  # type: ignore[no-untyped-def]
    client.force_login(django_user_model.objects.create_user("carol", password="x" * 16))
    assert client.get("/registries/").status_code == 403
    assert client.post("/registries/new/", {"name": "x", "server": "x.example", "username": "u", "password": "p"}).status_code == 403
    assert client.get("/api/registries/").status_code == 403
    assert not RegistryCredential.objects.exists()
