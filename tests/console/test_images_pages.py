"""Images pages against the session's real Berth engine: list, detail with history, tag, remove (and the
engine's refusal for an image in use), export as a streamed download, import and build as jobs."""

from __future__ import annotations

import io
import json
import secrets
import tarfile
import threading

import pytest
from asgiref.sync import sync_to_async

from console.audit.models import Activity
from console.jobs.framework import execute
from console.jobs.models import Job
from tests.console.websockets import communicator, connect, receive_json_until, run

pytestmark = pytest.mark.django_db(transaction=True)


def image_id(docker, ref: str) -> str:  # type: ignore[no-untyped-def]
    return docker("image", "inspect", "-f", "{{.Id}}", ref, check=True).out


def run_job(job_id: int) -> Job:
    job = Job.objects.get(pk=job_id)
    execute(job.pk, job.dispatches)
    job.refresh_from_db()
    return job


def job_of(response) -> int:  # type: ignore[no-untyped-def]
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"].startswith("/jobs/")
    return int(response["Location"].strip("/").split("/")[1])


@pytest.fixture
def own_tag(engine, docker):  # type: ignore[no-untyped-def]
    """busybox under a tag of this test's own (removed after it)."""
    tag = f"console-test/bb-{secrets.token_hex(3)}:v1"
    docker("tag", "busybox", tag, check=True)
    yield tag
    docker("rmi", "-f", tag)


def test_the_list_shows_tags_size_and_the_containers_using_an_image(admin_client, endpoint, own_tag, run_busybox) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("sleep", "60", name=f"user-{secrets.token_hex(3)}")
    page = admin_client.get(f"/endpoints/{endpoint.pk}/images/")
    body = page.content.decode()
    assert page.status_code == 200 and own_tag in body and "busybox:latest" in body
    assert f"/endpoints/{endpoint.pk}/containers/{cid[:12]}/" in body  # busybox's "Used by"
    assert "Pull image" in body and "Build" in body and "Import" in body
    found = admin_client.get(f"/endpoints/{endpoint.pk}/images/rows/?q={own_tag.split(':')[0]}").content.decode()
    assert own_tag in found  # the row of that image (busybox's: it has both tags)
    assert "No image matches" in admin_client.get(f"/endpoints/{endpoint.pk}/images/rows/?q=zz-no-such-zz").content.decode()


def test_the_image_page_shows_history_configuration_and_users(admin_client, endpoint, own_tag, docker) -> None:  # type: ignore[no-untyped-def]
    hex_id = image_id(docker, own_tag).removeprefix("sha256:")
    page = admin_client.get(f"/endpoints/{endpoint.pk}/images/{hex_id[:12]}/")
    body = page.content.decode()
    assert page.status_code == 200 and own_tag in body and "History" in body and hex_id in body
    assert admin_client.get(f"/endpoints/{endpoint.pk}/images/{'0' * 12}/").status_code == 404


def test_tag_and_untag(admin_client, endpoint, own_tag, docker) -> None:  # type: ignore[no-untyped-def]
    hex_id = image_id(docker, own_tag).removeprefix("sha256:")[:12]
    new = own_tag.replace(":v1", ":v2")
    response = admin_client.post(f"/endpoints/{endpoint.pk}/images/{hex_id}/tag/", {"target": new})
    assert response.status_code == 302
    assert image_id(docker, new) == image_id(docker, own_tag)
    bad = admin_client.post(f"/endpoints/{endpoint.pk}/images/{hex_id}/tag/", {"target": "Not A Name!"})
    assert bad.status_code == 400 and "Names are lowercase" in bad.content.decode()
    gone = admin_client.post(f"/endpoints/{endpoint.pk}/images/{hex_id}/remove/", {"ref": new})
    assert gone.status_code == 302
    assert docker("image", "inspect", new).returncode != 0 and image_id(docker, own_tag)
    assert Activity.objects.filter(action="image.tag", outcome="success").exists()


def test_removing_an_image_a_container_uses_is_refused_in_the_engines_words(admin_client, endpoint, docker) -> None:  # type: ignore[no-untyped-def]
    tag = f"console-test/used-{secrets.token_hex(3)}:v1"
    docker("tag", "busybox", tag, check=True)
    docker("build", "-q", "-t", tag, "-", input=f"FROM {tag}\nLABEL own=1\n", check=True)  # an image of its own
    cid = docker("run", "-d", tag, "sleep", "60", check=True).out
    hex_id = image_id(docker, tag).removeprefix("sha256:")[:12]
    try:
        response = admin_client.post(f"/endpoints/{endpoint.pk}/images/{hex_id}/remove/", {"ref": hex_id, "back": "list"},
                                     follow=True)
        body = response.content.decode()
        assert "conflict" in body.lower() and cid[:12] in body  # Docker's message names the container
        assert docker("image", "inspect", hex_id).returncode == 0  # (Berth drops the tags on this refusal: see the report)
        assert Activity.objects.filter(action="image.remove", outcome="failure").exists()
    finally:
        docker("rm", "-f", cid)
        docker("rmi", "-f", tag)
        docker("rmi", "-f", hex_id)


def test_export_streams_a_docker_save_archive(admin_client, endpoint, own_tag) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.get(f"/endpoints/{endpoint.pk}/images/x/export/?ref={own_tag}")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"] == f'attachment; filename="{own_tag.replace("/", "_").replace(":", "_")}.tar"'
    archive = b"".join(response.streaming_content)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest[0]["RepoTags"] == [own_tag]
    missing = admin_client.get(f"/endpoints/{endpoint.pk}/images/x/export/?ref=nothing/here:v0", follow=True)
    assert "No such image" in missing.content.decode() or "not found" in missing.content.decode().lower()


def test_import_an_exported_archive_as_a_job(admin_client, endpoint, own_tag, docker) -> None:  # type: ignore[no-untyped-def]
    archive = b"".join(admin_client.get(f"/endpoints/{endpoint.pk}/images/x/export/?ref={own_tag}").streaming_content)
    docker("rmi", own_tag, check=True)
    upload = io.BytesIO(archive)
    upload.name = "saved.tar"
    job = run_job(job_of(admin_client.post(f"/endpoints/{endpoint.pk}/images/import/", {"archive": upload})))
    assert job.state == Job.SUCCEEDED, job.error
    assert job.result["loaded"] == [own_tag] and f"Loaded image: {own_tag}" in job.log
    assert image_id(docker, own_tag)
    not_tar = io.BytesIO(b"certainly not a tar")
    not_tar.name = "x.tar"
    refused = admin_client.post(f"/endpoints/{endpoint.pk}/images/import/", {"archive": not_tar})
    assert refused.status_code == 400 and "not a tar archive" in refused.content.decode()


def test_build_from_the_editor_with_build_args_streams_its_log(admin_client, admin_user, endpoint, docker) -> None:  # type: ignore[no-untyped-def]
    tag = f"console-test/built-{secrets.token_hex(3)}:v1"
    dockerfile = "FROM busybox\nARG WORD=nothing\nRUN echo \"said $WORD\" > /said\nCMD [\"cat\", \"/said\"]\n"
    response = admin_client.post(f"/endpoints/{endpoint.pk}/images/build/",
                                 {"text": dockerfile, "tags": tag, "buildargs": "WORD=hello", "dockerfile": "Dockerfile"})
    job_id = job_of(response)
    comm = communicator(f"/ws/jobs/{job_id}/", admin_user)

    async def scenario() -> list[dict]:
        await connect(comm)
        snapshot = await comm.receive_json_from(10)  # read before the job runs: SQLite in memory locks tables
        worker = threading.Thread(target=run_job, args=(job_id,))
        worker.start()
        got = [snapshot] + await receive_json_until(comm, lambda m: m["job"]["state"] in ("succeeded", "failed"), timeout=120)
        await sync_to_async(worker.join)(30)
        await comm.disconnect()
        return got

    messages = run(scenario)
    job = Job.objects.get(pk=job_id)
    try:
        assert job.state == Job.SUCCEEDED, job.error + job.log
        streamed = "".join(m["log"]["text"] for m in messages if m.get("log"))
        assert "Step 3/4" in streamed and "Successfully built" in job.log
        assert job.result["tags"] == [tag] and job.result["links"][0]["url"].startswith(f"/endpoints/{endpoint.pk}/images/")
        assert docker("run", "--rm", tag).out == "said hello"
    finally:
        docker("rmi", "-f", tag)


def test_build_with_an_uploaded_context_and_the_editors_dockerfile(admin_client, endpoint, docker) -> None:  # type: ignore[no-untyped-def]
    tag = f"console-test/ctx-{secrets.token_hex(3)}:v1"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in (("greeting.txt", b"from the context\n"), ("Dockerfile", b"FROM busybox\nCMD echo wrong one\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    buf.name = "context.tar.gz"
    job = run_job(job_of(admin_client.post(f"/endpoints/{endpoint.pk}/images/build/", {
        "text": "FROM busybox\nCOPY greeting.txt /\nCMD [\"cat\", \"/greeting.txt\"]\n", "tags": tag, "context": buf})))
    try:
        assert job.state == Job.SUCCEEDED, job.error + job.log
        assert docker("run", "--rm", tag).out == "from the context"
    finally:
        docker("rmi", "-f", tag)


def test_a_broken_dockerfile_fails_the_build_with_the_engines_message(admin_client, endpoint) -> None:  # type: ignore[no-untyped-def]
    job = run_job(job_of(admin_client.post(f"/endpoints/{endpoint.pk}/images/build/",
                                           {"text": "FROM busybox\nRUN exit 3\n", "tags": "console-test/broken:v1"})))
    assert job.state == Job.FAILED and "returned a non-zero code: 3" in job.error
    empty = admin_client.post(f"/endpoints/{endpoint.pk}/images/build/", {"text": "  ", "tags": ""})
    assert empty.status_code == 400 and "Write a Dockerfile here" in empty.content.decode()
    bad_args = admin_client.post(f"/endpoints/{endpoint.pk}/images/build/", {"text": "FROM busybox\n", "buildargs": "no equals"})
    assert bad_args.status_code == 400 and "Line 1" in bad_args.content.decode()


def test_images_pages_need_an_administrator(client, django_user_model, endpoint) -> None:  # type: ignore[no-untyped-def]
    client.force_login(django_user_model.objects.create_user("mallory", password="x" * 16))
    assert client.get(f"/endpoints/{endpoint.pk}/images/").status_code == 403
    assert client.post(f"/endpoints/{endpoint.pk}/images/pull/", {"image": "busybox"}).status_code == 403
    assert client.get(f"/endpoints/{endpoint.pk}/images/x/export/?ref=busybox").status_code == 403
    assert not Job.objects.exists()


def test_export_under_asgi_streams_without_holding_a_thread(async_client, admin_user, endpoint, own_tag) -> None:  # type: ignore[no-untyped-def]
    from asgiref.sync import async_to_sync

    async def download() -> tuple[int, bytes, bool]:
        await async_client.aforce_login(admin_user)
        response = await async_client.get(f"/endpoints/{endpoint.pk}/images/x/export/?ref={own_tag}")
        body = b"".join([chunk async for chunk in response.streaming_content])
        return response.status_code, body, response.is_async

    status, body, is_async = async_to_sync(download)()
    assert status == 200 and is_async
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert "manifest.json" in tar.getnames()
