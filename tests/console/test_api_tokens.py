"""API tokens: the page and /api/tokens/ — several per user, named, shown once, stored hashed, used, revoked."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from console.accounts.models import ApiToken
from console.audit.models import Activity

pytestmark = pytest.mark.django_db


def test_the_api_makes_shows_once_and_revokes_a_token(admin_user) -> None:  # type: ignore[no-untyped-def]
    session = APIClient()
    session.force_login(admin_user)
    assert session.get("/api/tokens/").json() == {"exists": False, "created": None, "tokens": []}

    made = session.post("/api/tokens/", {"name": "ci"}, format="json")
    assert made.status_code == 201
    key = made.json()["key"]
    state = session.get("/api/tokens/").json()
    assert state["exists"] is True and key not in str(state) and state["tokens"][0]["name"] == "ci"

    script = APIClient()
    script.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert script.get("/api/endpoints/").status_code == 200

    again = session.post("/api/tokens/").json()["key"]
    assert again != key
    assert script.get("/api/endpoints/").status_code == 200  # several tokens live side by side

    assert session.delete("/api/tokens/").status_code == 204
    assert script.get("/api/endpoints/").status_code == 401
    assert not [t for t in ApiToken.objects.filter(user=admin_user) if t.revoked_at is None]
    actions = list(Activity.objects.order_by("created_at").values_list("action", flat=True))
    assert actions == ["token.create", "token.create", "token.revoke"]
    for entry in Activity.objects.all():
        assert key not in str(entry.details) and again not in str(entry.details)


def test_the_page_shows_a_new_key_once(admin_client, admin_user) -> None:  # type: ignore[no-untyped-def]
    page = admin_client.get("/account/token/").content.decode()
    assert "No API token" in page
    made = admin_client.post("/account/token/", {"action": "create", "name": "deploy", "days": "30"})
    token = ApiToken.objects.get(user=admin_user)
    html = made.content.decode()
    assert made.status_code == 200 and token.prefix in html and "berth_" in html
    key = html.split('id="new-token" class="input" type="text" value="')[1].split('"')[0]
    assert key.startswith(token.prefix) and token.key_hash != key and key not in str(ApiToken.objects.values())
    later = admin_client.get("/account/token/").content.decode()
    assert key not in later and "deploy" in later
    revoked = admin_client.post("/account/token/", {"action": "revoke", "id": token.pk})
    assert revoked.status_code == 302
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert Activity.objects.filter(action="token.revoke", outcome="success").count() == 1


def test_any_user_manages_only_their_own_tokens(django_user_model, admin_user) -> None:  # type: ignore[no-untyped-def]
    assert APIClient().get("/api/tokens/").status_code == 401
    bob = django_user_model.objects.create_user("bob", password="x" * 16)
    client = APIClient()
    client.force_authenticate(bob)
    assert client.post("/api/tokens/").status_code == 201
    admin = APIClient()
    admin.force_authenticate(admin_user)
    theirs = ApiToken.objects.get(user=bob)
    assert admin.delete(f"/api/tokens/{theirs.pk}/").status_code == 204
    assert ApiToken.objects.get(pk=theirs.pk).revoked_at is None  # not the admin's token to revoke
