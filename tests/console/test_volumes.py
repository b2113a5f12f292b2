"""Volume pages against the session's real Berth engine: list, create, detail, remove; files; the transfer functions.

Export, import and prune run as jobs: tests/console/test_volumes_jobs.py."""

from __future__ import annotations

import io
import json
import secrets
import tarfile

import pytest
from asgiref.sync import async_to_sync
from django.urls import reverse

from console.audit.models import Activity
from console.volumes import browse, transfer
from console.volumes.helper import HELPER_LABEL

pytestmark = pytest.mark.django_db


@pytest.fixture
def volume_names(docker):  # type: ignore[no-untyped-def]
    """Names of volumes a test makes (append to it); they are removed after the test, with their containers first."""
    names: list[str] = []
    yield names
    for name in names:
        docker("volume", "rm", "-f", name)


def fresh(prefix: str = "vol") -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def url(name: str, eid: int, volume: str | None = None) -> str:
    kwargs = {"eid": eid, **({"name": volume} if volume else {})}
    return reverse(f"volumes:{name}", kwargs=kwargs)


def fill(docker, volume: str, script: str) -> None:  # type: ignore[no-untyped-def]
    result = docker("run", "--rm", "-v", f"{volume}:/data", "busybox", "sh", "-c", script)
    assert result.returncode == 0, result.stderr


def body_of(response) -> bytes:  # type: ignore[no-untyped-def]
    """A streaming response's body, read the way Daphne reads it (async iteration)."""
    async def read() -> bytes:
        return b"".join([chunk async for chunk in response])
    try:
        return async_to_sync(read)()
    finally:
        response.close()


def helpers(docker) -> list[str]:  # type: ignore[no-untyped-def]
    return docker("ps", "-aq", "--filter", f"label={HELPER_LABEL}").stdout.split()


def test_it_creates_a_volume_with_options_and_labels(admin_client, endpoint, docker, volume_names) -> None:  # type: ignore[no-untyped-def]
    name = fresh()
    volume_names.append(name)
    response = admin_client.post(url("create", endpoint.pk), {
        "name": name, "driver": "local", "options": "type=tmpfs\ndevice=tmpfs\no=size=16m", "labels": "team=web\nbackup"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == url("detail", endpoint.pk, name)
    data = json.loads(docker("volume", "inspect", name, check=True).stdout)[0]
    assert data["Labels"] == {"team": "web", "backup": ""}
    assert data["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=16m"}
    entry = Activity.objects.get(action="volume.create", target=name)
    assert entry.outcome == Activity.SUCCESS and entry.user.is_superuser

    page = admin_client.get(url("detail", endpoint.pk, name)).content.decode()
    assert name in page and "team" in page and "No container mounts this volume." in page


@pytest.mark.parametrize("fields, field, words", [
    ({"name": "-bad"}, "name", "not a valid volume name"),
    ({"name": "a/b"}, "name", "not a valid volume name"),
    ({"name": "x", "options": "colour=blue"}, "options", "the local driver knows"),
    ({"name": "x", "options": "type=tmpfs"}, "options", "needs both type and device"),
    ({"name": "x", "labels": "bad key=1"}, "labels", "key=value"),
    ({"name": "x", "driver": "no such"}, "driver", "driver name"),
])
def test_bad_input_gets_per_field_errors_and_changes_nothing(admin_client, endpoint, docker, fields, field, words) -> None:  # type: ignore[no-untyped-def]
    before = docker("volume", "ls", "-q").stdout.split()
    data = {"name": "", "driver": "local", "options": "", "labels": "", **fields}
    if data["name"] == "x":
        data["name"] = fresh()
    response = admin_client.post(url("create", endpoint.pk), data)
    assert response.status_code == 400
    form = response.context["form"]
    assert words in " ".join(form.errors.get(field, [])), form.errors
    assert docker("volume", "ls", "-q").stdout.split() == before


def test_a_taken_name_is_refused_on_its_field(admin_client, endpoint, docker, volume_names) -> None:  # type: ignore[no-untyped-def]
    name = fresh()
    volume_names.append(name)
    docker("volume", "create", name, check=True)
    response = admin_client.post(url("create", endpoint.pk), {"name": name, "driver": "local"})
    assert response.status_code == 400
    assert "already exists" in response.context["form"].errors["name"][0]


def test_the_list_shows_users_and_the_sizes_load_afterwards(admin_client, endpoint, docker, volume_names, run_busybox) -> None:  # type: ignore[no-untyped-def]
    used, unused = fresh("used"), fresh("unused")
    volume_names.extend([used, unused])
    docker("volume", "create", unused, check=True)
    fill(docker, used, "head -c 300000 /dev/zero > /data/blob")
    holder = run_busybox("sleep", "60", name=fresh("holder"), args=("-v", f"{used}:/srv"))

    body = admin_client.get(url("list", endpoint.pk)).content.decode()
    assert used in body and unused in body
    assert f'href="/endpoints/{endpoint.pk}/containers/{holder[:12]}/"' in body
    assert f'data-size="{used}"' in body and url("sizes", endpoint.pk) in body

    sizes = admin_client.get(url("sizes", endpoint.pk)).json()["sizes"]
    assert sizes[used]["bytes"] >= 300000 and sizes[unused]["bytes"] == 0

    filtered = admin_client.get(url("list", endpoint.pk), {"usage": "unused"}).content.decode()
    assert unused in filtered and used not in filtered


def test_a_volume_in_use_is_not_removed_and_the_page_says_by_whom(admin_client, endpoint, docker, volume_names, run_busybox) -> None:  # type: ignore[no-untyped-def]
    name = fresh()
    volume_names.append(name)
    holder = fresh("holder")
    run_busybox("sleep", "60", name=holder, args=("-v", f"{name}:/srv"))
    response = admin_client.post(url("remove", endpoint.pk, name), follow=True)
    text = " ".join(str(m) for m in response.context["messages"])
    assert f"{name} is in use by {holder}" in text
    assert docker("volume", "inspect", name).returncode == 0
    assert Activity.objects.get(action="volume.remove", target=name).outcome == Activity.FAILURE

    docker("rm", "-f", holder, check=True)
    response = admin_client.post(url("remove", endpoint.pk, name))
    assert response.status_code == 302 and docker("volume", "inspect", name).returncode != 0


def test_browse_and_download_read_the_volume_through_a_helper(admin_client, endpoint, docker, volume_names) -> None:  # type: ignore[no-untyped-def]
    name = fresh()
    volume_names.append(name)
    fill(docker, name, "mkdir -p /data/logs && printf 'line one\\nline two\\n' > /data/logs/app.log && "
                       "echo hi > '/data/with space.txt' && ln -s /etc /data/escape && ln -s logs /data/inside")

    body = admin_client.get(url("files", endpoint.pk, name)).content.decode()
    assert "logs/" in body and "with space.txt" in body and "escape" in body
    body = admin_client.get(url("files", endpoint.pk, name), {"path": "/logs"}).content.decode()
    assert "app.log" in body and "18\xa0bytes" in body
    assert admin_client.get(url("files", endpoint.pk, name), {"path": "/inside"}).status_code == 200  # a link within

    response = admin_client.get(url("download", endpoint.pk, name), {"path": "/logs/app.log"})
    assert response.status_code == 200 and response.streaming
    assert body_of(response) == b"line one\nline two\n"
    assert response["Content-Disposition"] == 'attachment; filename="app.log"'
    assert response["Content-Length"] == "18"
    assert Activity.objects.filter(action="volume.download", outcome=Activity.SUCCESS).exists()
    assert not helpers(docker)  # every helper container is gone


@pytest.mark.parametrize("path, words", [
    ("/../../etc/passwd", "cannot contain '..'"),
    ("/escape/passwd", "leads out of the volume"),
    ("/nothing-here", "no such file or directory"),
    ("/logs", "not a regular file"),
])
def test_paths_out_of_the_volume_are_refused(admin_client, endpoint, docker, volume_names, path, words) -> None:  # type: ignore[no-untyped-def]
    name = fresh()
    volume_names.append(name)
    fill(docker, name, "mkdir /data/logs && ln -s /etc /data/escape")
    response = admin_client.get(url("download", endpoint.pk, name), {"path": path}, follow=True)
    text = " ".join(str(m) for m in response.context["messages"])
    assert words in text
    assert Activity.objects.filter(action="volume.download", outcome=Activity.FAILURE).exists()
    if words != "cannot contain '..'":
        with pytest.raises(Exception, match=words):
            browse.open_file(endpoint, name, path)
    assert not helpers(docker)


def test_import_into_an_existing_volume_feeds_a_large_archive_in_acknowledged_pieces(endpoint, docker, volume_names) -> None:  # type: ignore[no-untyped-def]
    name = fresh()
    volume_names.append(name)
    docker("volume", "create", name, check=True)
    payload = secrets.token_bytes(1_000_000)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as t:
        info = tarfile.TarInfo("big.bin")
        info.size = len(payload)
        t.addfile(info, io.BytesIO(payload))
    archive.seek(0)
    seen: list[tuple[int, int | None]] = []
    done = transfer.import_volume(endpoint, name, archive, lambda n, total: seen.append((n, total)), total=len(archive.getvalue()))
    assert done.members == 1 and done.bytes > len(payload)
    assert seen and seen[-1][0] == len(archive.getvalue())
    out = io.BytesIO()
    transfer.export_volume(endpoint, name, out)
    out.seek(0)
    with tarfile.open(fileobj=out) as t:
        member = t.extractfile("./big.bin")
        assert member is not None and member.read() == payload


def test_a_missing_helper_image_is_said_plainly(admin_client, endpoint, docker, volume_names, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from console.volumes import helper

    name = fresh()
    volume_names.append(name)
    docker("volume", "create", name, check=True)
    monkeypatch.setattr(helper, "HELPER_IMAGE", "no-such-helper-image:1")
    body = admin_client.get(url("files", endpoint.pk, name)).content.decode()
    assert "This needs the image no-such-helper-image:1 on the endpoint" in body
    assert admin_client.get(url("files", endpoint.pk, "no-such-volume")).status_code == 404
