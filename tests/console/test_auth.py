"""Authentication: login throttling, logout that kills a stolen cookie, hashed expiring tokens, TOTP 2FA."""

from __future__ import annotations

import time
from datetime import timedelta

import pyotp
import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from console.accounts import throttle, totp
from console.accounts.models import ApiToken, LoginThrottle, UserSecurity
from console.accounts.tokens import hash_key, issue_token
from console.audit.models import Activity

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def ann(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_user("ann", password=PASSWORD)


def _login(client: Client, password: str, username: str = "ann", address: str = "203.0.113.7"):  # type: ignore[no-untyped-def]
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_the_wait_grows_then_blocks() -> None:
    waits = [throttle.wait_after(n, throttle.BLOCK_AFTER).total_seconds() for n in range(1, 12)]
    assert waits[:2] == [0, 0]
    assert waits[2:6] == [1, 2, 4, 8]
    assert waits[-2:] == [throttle.BLOCK_FOR.total_seconds()] * 2


def test_brute_force_is_slowed_blocked_and_recorded(client, ann) -> None:  # type: ignore[no-untyped-def]
    for _ in range(throttle.SLOW_AFTER):
        assert _login(client, "guess").status_code == 200  # the form again, with the error
    slowed = _login(client, PASSWORD)  # even the right password waits now
    assert slowed.status_code == 429 and int(slowed["Retry-After"]) >= 1
    assert "Too many failed sign-ins" in slowed.content.decode()
    LoginThrottle.objects.update(blocked_until=None)  # the wait is over
    for _ in range(throttle.BLOCK_AFTER - throttle.SLOW_AFTER):
        _login(client, "guess")
        LoginThrottle.objects.filter(failures__lt=throttle.BLOCK_AFTER).update(blocked_until=None)
    blocked = _login(client, PASSWORD)
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) > 60 * 10
    failures = Activity.objects.filter(action="login.failure", target="ann")
    assert failures.count() == throttle.BLOCK_AFTER
    assert set(failures.values_list("remote_addr", flat=True)) == {"203.0.113.7"}
    assert Activity.objects.filter(action="login.blocked", outcome=Activity.DENIED).count() == 2
    assert not Client().get("/").wsgi_request.user.is_authenticated


def test_the_block_is_per_username_and_per_address(client, ann, django_user_model) -> None:  # type: ignore[no-untyped-def]
    django_user_model.objects.create_user("bob", password=PASSWORD)
    for _ in range(throttle.SLOW_AFTER):
        _login(client, "guess")
    assert _login(Client(), PASSWORD, address="198.51.100.1").status_code == 429  # ann, from elsewhere: still slowed
    assert _login(Client(), PASSWORD, username="bob", address="198.51.100.1").status_code == 302  # bob is fine
    assert Activity.objects.filter(action="login.success", target="bob", remote_addr="198.51.100.1").exists()


def test_a_good_sign_in_clears_the_username_count(client, ann) -> None:  # type: ignore[no-untyped-def]
    _login(client, "guess")
    assert _login(client, PASSWORD).status_code == 302
    assert not LoginThrottle.objects.filter(key="user:ann").exists()


def test_a_stolen_session_cookie_stops_working_after_logout(ann) -> None:  # type: ignore[no-untyped-def]
    browser = Client()
    assert _login(browser, PASSWORD).status_code == 302
    cookie = browser.cookies["sessionid"].value
    thief = Client()
    thief.cookies["sessionid"] = cookie
    assert thief.get("/account/").status_code == 200  # the copy works while the session lives
    assert browser.post("/logout/").status_code == 302
    after = thief.get("/account/")
    assert after.status_code == 302 and "/login/" in after["Location"]
    assert Activity.objects.filter(action="logout", target="ann").exists()


def test_logout_needs_a_post_with_csrf(ann) -> None:  # type: ignore[no-untyped-def]
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(ann)
    assert browser.get("/logout/").status_code == 405
    assert browser.post("/logout/").status_code == 403  # no CSRF token: a third-party page cannot sign you out
    assert browser.get("/account/").status_code == 200


def test_tokens_are_stored_hashed_and_expire(ann) -> None:  # type: ignore[no-untyped-def]
    made = issue_token(ann, "ci", days=1)
    row = ApiToken.objects.get(pk=made.token.pk)
    assert row.key_hash == hash_key(made.key) and made.key not in str(ApiToken.objects.values())
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {made.key}")
    assert api.get("/api/tokens/").status_code == 200
    assert ApiToken.objects.get(pk=row.pk).last_used_at is not None
    ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api.get("/api/tokens/").status_code == 401
    bearer = APIClient()
    fresh = issue_token(ann, "bearer")
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {fresh.key}")
    assert bearer.get("/api/tokens/").status_code == 200
    ann.is_active = False
    ann.save()
    assert bearer.get("/api/tokens/").status_code == 401


def _code(secret: str, offset: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + offset)


def _enable_totp(user) -> str:  # type: ignore[no-untyped-def]
    sec = totp.start_setup(user)
    assert totp.confirm(sec, _code(sec.totp_secret, -30))
    return sec.totp_secret


def test_totp_sign_in_asks_for_a_code_after_the_password(ann) -> None:  # type: ignore[no-untyped-def]
    secret = _enable_totp(ann)
    browser = Client()
    first = _login(browser, PASSWORD)
    assert first.status_code == 302 and first["Location"] == "/login/code/"
    assert browser.get("/account/").status_code == 302  # not signed in yet
    wrong = browser.post("/login/code/", {"code": "000000"})
    assert wrong.status_code == 400 and Activity.objects.filter(action="login.2fa_failure").exists()
    right = browser.post("/login/code/", {"code": _code(secret)})
    assert right.status_code == 302
    assert browser.get("/account/").status_code == 200
    entry = Activity.objects.get(action="login.success", target="ann")
    assert "TOTP" in entry.message
    replay = Client()
    _login(replay, PASSWORD)
    assert replay.post("/login/code/", {"code": _code(secret)}).status_code == 400  # a code works once


def test_an_administrator_can_require_2fa(ann) -> None:  # type: ignore[no-untyped-def]
    UserSecurity.objects.create(user=ann, totp_required=True)
    browser = Client()
    assert _login(browser, PASSWORD).status_code == 302
    sent = browser.get("/account/")
    assert sent.status_code == 302 and sent["Location"] == "/account/2fa/"
    page = browser.get("/account/2fa/").content.decode()
    assert "<svg" in page and "requires two-factor sign-in" in page
    secret = UserSecurity.objects.get(user=ann).totp_secret
    browser.post("/account/2fa/", {"action": "confirm", "code": _code(secret)})
    assert browser.get("/account/").status_code == 200
    assert browser.post("/account/2fa/", {"action": "disable"}).status_code == 302
    assert UserSecurity.objects.get(user=ann).totp_enabled  # required: it stays on


def test_session_and_cookie_settings(settings) -> None:  # type: ignore[no-untyped-def]
    from console.accounts.config import parse_session_hours

    assert settings.SESSION_COOKIE_AGE == 12 * 3600 and settings.SESSION_COOKIE_HTTPONLY
    assert parse_session_hours("8") == 8
    with pytest.raises(ValueError):
        parse_session_hours("0")
    assert "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE


def test_https_settings_come_from_the_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    code = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE']='console.settings'; from django.conf import settings;"
            "print(settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, settings.SECURE_HSTS_SECONDS)")
    out = subprocess.run([sys.executable, "-c", code], env={**__import__("os").environ, "BERTH_HTTPS": "1"},
                         capture_output=True, text=True, check=True, cwd=str(__import__("pathlib").Path(__file__).parents[2]))
    assert out.stdout.split() == ["True", "True", "31536000"]


def test_passwords_follow_the_policy(admin_client) -> None:  # type: ignore[no-untyped-def]
    weak = admin_client.post("/users/", {"username": "carl", "password": "password"})
    assert weak.status_code == 400 and "too common" in weak.content.decode()
    good = admin_client.post("/users/", {"username": "carl", "password": PASSWORD})
    assert good.status_code == 302
    assert Activity.objects.filter(action="user.create", target="carl").exists()
