"""The ASGI application Daphne serves: static files from STATIC_ROOT, HTTP through Django."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.core.management import call_command

from console.asgi import application


@async_to_sync
async def get(path: str) -> dict:
    """GET `path` from the ASGI application as Daphne would; the response's status and whole body."""
    scope = {
        "type": "http", "http_version": "1.1", "method": "GET", "scheme": "http", "path": path,
        "raw_path": path.encode(), "query_string": b"", "headers": [(b"host", b"testserver")],
        "server": ("testserver", 80), "client": ("127.0.0.1", 50000),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(5)
    body = b""
    while True:
        message = await communicator.receive_output(5)
        body += message.get("body", b"")
        if not message.get("more_body"):
            return {"status": start["status"], "body": body}


@pytest.fixture
def collected(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", interactive=False, verbosity=0)


def test_it_serves_collected_static_files(collected) -> None:  # type: ignore[no-untyped-def]
    response = get("/static/css/berth.css")
    assert response["status"] == 200
    assert b"--accent" in response["body"]


def test_it_answers_404_for_paths_outside_static_root(collected) -> None:  # type: ignore[no-untyped-def]
    assert get("/static/nope.css")["status"] == 404
    assert get("/static/../manage.py")["status"] == 404


@pytest.mark.django_db
def test_it_routes_other_paths_to_django() -> None:
    response = get("/login/")
    assert response["status"] == 200
    assert b"Sign in to Berth" in response["body"]
