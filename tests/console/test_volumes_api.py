"""The volumes REST API against the session's real Berth engine: CRUD, files, export and import."""

from __future__ import annotations

import io
import secrets
import tarfile

import pytest
from asgiref.sync import async_to_sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def volumes(docker):  # type: ignore[no-untyped-def]
    names: list[str] = []
    yield names
    for name in names:  # the containers using it go first (the `docker` fixture removes them only after this)
        users = docker("ps", "-aq", "--filter", f"volume={name}").stdout.split()
        if users:
            docker("rm", "-f", *users)
        docker("volume", "rm", "-f", name)


def body_of(response) -> bytes:  # type: ignore[no-untyped-def]
    async def read() -> bytes:
        return b"".join([chunk async for chunk in response])
    try:
        return async_to_sync(read)()
    finally:
        response.close()


def test_create_list_files_export_import_remove(admin_client, endpoint, docker, volumes) -> None:  # type: ignore[no-untyped-def]
    base = f"/api/endpoints/{endpoint.pk}/volumes/"
    name = f"apivol-{secrets.token_hex(3)}"
    volumes.append(name)
    created = admin_client.post(base, {"name": name, "labels": {"k": "v"}}, content_type="application/json")
    assert created.status_code == 201 and created.json() == {"name": name}
    docker("run", "--rm", "-v", f"{name}:/d", "busybox", "sh", "-c", "mkdir /d/x && echo hello > /d/x/f.txt", check=True)

    listed = {v["name"]: v for v in admin_client.get(base, {"sizes": "1"}).json()}
    assert listed[name]["labels"] == {"k": "v"} and listed[name]["size"] >= 6 and listed[name]["used_by"] == []
    files = admin_client.get(f"{base}{name}/files/", {"path": "/x"}).json()
    assert files["path"] == "/x" and [(e["name"], e["kind"], e["size"]) for e in files["entries"]] == [("f.txt", "file", 6)]
    assert admin_client.get(f"{base}{name}/files/", {"path": "/../x"}).json()["error"]["fields"]["path"]
    missing = admin_client.get(f"{base}{name}/files/", {"path": "/nope"})
    assert missing.status_code == 404 and "no such file or directory" in missing.json()["error"]["message"]
    download = admin_client.get(f"{base}{name}/files/download/", {"path": "/x/f.txt"})
    assert download.status_code == 200 and body_of(download) == b"hello\n"

    exported = body_of(admin_client.get(f"{base}{name}/export/"))
    assert admin_client.delete(f"{base}{name}/").status_code == 204
    assert admin_client.get(f"{base}{name}/").status_code == 404
    imported = admin_client.post(f"{base}{name}/import/", {"archive": io.BytesIO(exported)})
    assert imported.status_code == 200, imported.content
    assert imported.json()["members"] >= 3
    again = admin_client.get(f"{base}{name}/files/download/", {"path": "/x/f.txt"})
    assert body_of(again) == b"hello\n"


def test_errors_have_the_one_shape(admin_client, endpoint, docker, volumes, run_busybox) -> None:  # type: ignore[no-untyped-def]
    base = f"/api/endpoints/{endpoint.pk}/volumes/"
    bad = admin_client.post(base, {"name": "-x", "options": {"colour": "red"}}, content_type="application/json")
    assert bad.status_code == 400 and set(bad.json()["error"]["fields"]) == {"name", "options"}

    name = f"busy-{secrets.token_hex(3)}"
    volumes.append(name)
    run_busybox("sleep", "60", args=("-v", f"{name}:/srv"))
    in_use = admin_client.delete(f"{base}{name}/")
    assert in_use.status_code == 409 and in_use.json()["error"]["status"] == 409

    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as t:
        info = tarfile.TarInfo("/etc/evil")
        info.size = 0
        t.addfile(info)
    archive.seek(0)
    refused = admin_client.post(f"{base}{name}/import/", {"archive": archive})
    assert refused.status_code == 400 and "not a path inside the volume" in refused.json()["error"]["fields"]["archive"][0]

    pruned = admin_client.post(f"{base}prune/")
    assert pruned.status_code == 200 and name not in pruned.json()["removed"]
    assert admin_client.post(f"{base}{name}/").status_code == 405
