"""The console end to end through Django's test client: sign-in, the dashboard, the first admin."""

from __future__ import annotations

import stat

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from console.endpoints.models import LOCAL_ENDPOINT, Endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def password_file(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.ADMIN_PASSWORD_FILE = tmp_path / "admin-password"
    return settings.ADMIN_PASSWORD_FILE


def test_it_renders_the_login_page(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/login/")
    assert response.status_code == 200
    assert b'<label for="id_username">Username</label>' in response.content
    assert b'autocomplete="current-password"' in response.content
    assert b"csrfmiddlewaretoken" in response.content


def test_it_redirects_anonymous_users_to_login(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"


def test_it_registers_the_local_endpoint_from_settings(settings) -> None:  # type: ignore[no-untyped-def]
    assert Endpoint.objects.get(name=LOCAL_ENDPOINT).url == settings.BERTH_ENGINE_HOST


def test_ensure_admin_creates_one_admin_and_is_idempotent(password_file, capsys) -> None:  # type: ignore[no-untyped-def]
    call_command("ensure_admin")
    password = password_file.read_text().strip()
    call_command("ensure_admin")

    users = get_user_model().objects.all()
    assert [u.username for u in users] == ["admin"]
    assert users[0].is_superuser and users[0].is_staff
    assert users[0].check_password(password)
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert password_file.read_text().strip() == password
    out = capsys.readouterr().out
    assert str(password_file) in out
    assert password not in out


def test_ensure_admin_leaves_existing_users_alone(password_file) -> None:  # type: ignore[no-untyped-def]
    get_user_model().objects.create_user("alice", password="x" * 20)
    call_command("ensure_admin")
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["alice"]
    assert not password_file.exists()


def test_it_signs_in_with_the_admin_password(client, password_file) -> None:  # type: ignore[no-untyped-def]
    call_command("ensure_admin")
    password = password_file.read_text().strip()
    response = client.post("/login/", {"username": "admin", "password": password})
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_it_refuses_a_wrong_password(client, password_file) -> None:  # type: ignore[no-untyped-def]
    call_command("ensure_admin")
    response = client.post("/login/", {"username": "admin", "password": "wrong"})
    assert response.status_code == 200
    assert b'role="alert"' in response.content
    assert b'aria-invalid="true"' in response.content


def test_dashboard_shows_an_unreachable_engine(admin_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "missing.sock"
    Endpoint.objects.filter(name=LOCAL_ENDPOINT).update(url=f"unix://{missing}")
    response = admin_client.get("/", follow=True)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Unreachable" in body
    assert 'role="alert"' in body
    assert f"Cannot reach the engine at unix://{missing}: No such file or directory." in body
    assert "Traceback" not in body


def test_dashboard_has_an_empty_state(admin_client) -> None:  # type: ignore[no-untyped-def]
    Endpoint.objects.all().delete()
    response = admin_client.get("/", follow=True)
    assert response.status_code == 200
    assert b"No endpoints yet" in response.content


def test_dashboard_shows_a_live_engine(admin_client, engine) -> None:  # type: ignore[no-untyped-def]
    """Against a real engine (started by tests/conftest.py's fixture; skipped unless root)."""
    Endpoint.objects.filter(name=LOCAL_ENDPOINT).update(url=engine.host)
    response = admin_client.get("/", follow=True)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Unreachable" not in body, body
    assert "Berth Engine" in body
    status = response.context["board"].status
    assert status.up
    assert status.images >= 1  # busybox, bootstrapped by the fixture
