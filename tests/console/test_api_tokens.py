"""API tokens: the page and /api/tokens/ — made once, shown once, used for the API, revoked."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from console.audit.models import Activity

pytestmark = pytest.mark.django_db


def test_the_api_makes_shows_once_and_revokes_a_token(admin_user) -> None:  # type: ignore[no-untyped-def]
    session = APIClient()
    session.force_login(admin_user)
    assert session.get("/api/tokens/").json() == {"exists": False, "created": None}

    made = session.post("/api/tokens/")
    assert made.status_code == 201
    key = made.json()["key"]
    state = session.get("/api/tokens/").json()
    assert state["exists"] is True and key not in str(state)

    script = APIClient()
    script.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert script.get("/api/endpoints/").status_code == 200

    again = session.post("/api/tokens/").json()["key"]
    assert again != key
    assert script.get("/api/endpoints/").status_code == 401  # the old token stopped working

    assert session.delete("/api/tokens/").status_code == 204
    assert not Token.objects.filter(user=admin_user).exists()
    actions = list(Activity.objects.order_by("created_at").values_list("action", "message"))
    assert actions == [("token.create", ""), ("token.create", "replaced the earlier token"), ("token.revoke", "")]
    for entry in Activity.objects.all():
        assert key not in str(entry.details) and again not in str(entry.details)


def test_the_page_shows_a_new_key_once(admin_client, admin_user) -> None:  # type: ignore[no-untyped-def]
    page = admin_client.get("/account/token/").content.decode()
    assert "No API token" in page
    made = admin_client.post("/account/token/", {"action": "create"})
    key = Token.objects.get(user=admin_user).key
    assert made.status_code == 200 and key in made.content.decode()
    later = admin_client.get("/account/token/").content.decode()
    assert key not in later and "You have a token" in later
    revoked = admin_client.post("/account/token/", {"action": "revoke"})
    assert revoked.status_code == 302
    assert not Token.objects.filter(user=admin_user).exists()
    assert Activity.objects.filter(action="token.revoke", outcome="success").count() == 1


def test_tokens_need_an_administrator(django_user_model) -> None:  # type: ignore[no-untyped-def]
    assert APIClient().get("/api/tokens/").status_code == 401
    bob = django_user_model.objects.create_user("bob", password="x" * 16)
    client = APIClient()
    client.force_authenticate(bob)
    assert client.post("/api/tokens/").status_code == 403
    assert not Token.objects.exists()
