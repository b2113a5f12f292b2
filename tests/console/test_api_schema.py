"""The OpenAPI schema validates, and the docs page works offline (everything from this console)."""

from __future__ import annotations

import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db


def test_the_schema_is_a_valid_openapi_3_document(admin_client) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)  # raises on an invalid document
    paths = schema["paths"]
    for path in ("/api/endpoints/", "/api/endpoints/{id}/", "/api/endpoints/{id}/status/", "/api/endpoints/test/", "/api/tokens/"):
        assert path in paths, path
    endpoint = schema["components"]["schemas"]["Endpoint"]["properties"]
    assert endpoint["tls_key"].get("writeOnly") is True
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])


def test_the_docs_page_loads_nothing_from_elsewhere(admin_client) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.get("/api/docs/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "swagger-ui-bundle.js" in body and 'id="swagger-ui"' in body
    external = re.findall(r'(?:src|href)="(https?://[^"]+)"', body)
    assert external == []
    assert '"/api/schema/"' in body
    assets = re.findall(r'(?:src|href)="/static/(drf_spectacular_sidecar/[^"]+)"', body)
    assert len(assets) == 3  # Swagger UI's CSS, bundle and preset, served by the console itself
    for asset in assets:
        assert finders.find(asset), asset


def test_schema_and_docs_need_an_administrator(client, django_user_model) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/schema/").status_code == 401
    assert client.get("/api/docs/")["Location"] == "/login/?next=/api/docs/"
    client.force_login(django_user_model.objects.create_user("bob", password="x" * 16))
    assert client.get("/api/schema/").status_code == 403
    assert client.get("/api/docs/").status_code == 403
