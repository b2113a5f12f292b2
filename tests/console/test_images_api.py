"""The images REST API: list, inspect, history, tag, remove, export; pull, build and import answer 202 with a
job; errors in the console's one shape; the OpenAPI schema lists it all."""

from __future__ import annotations

import io
import secrets
import tarfile

import pytest
import yaml

from console.jobs.framework import execute
from console.jobs.models import Job

pytestmark = pytest.mark.django_db(transaction=True)


def finish(response) -> Job:  # type: ignore[no-untyped-def]
    assert response.status_code == 202, response.content
    assert response["Location"] == f"/api/jobs/{response.json()['id']}/"
    job = Job.objects.get(pk=response.json()["id"])
    execute(job.pk, job.dispatches)
    job.refresh_from_db()
    return job


def test_list_inspect_history_tag_and_remove(admin_client, endpoint, docker) -> None:  # type: ignore[no-untyped-def]
    base = f"/api/endpoints/{endpoint.pk}/images/"
    listed = admin_client.get(base).json()
    busybox = next(i for i in listed if "busybox:latest" in i["tags"])
    assert busybox["size"] > 0 and busybox["id"].startswith("sha256:") and "used_by" in busybox
    tag = f"api-test/bb-{secrets.token_hex(3)}:v1"
    tagged = admin_client.post(f"{base}busybox:latest/tag/", {"target": tag}, content_type="application/json")
    assert tagged.status_code == 201 and tagged.json() == {"tag": tag}
    inspect = admin_client.get(f"{base}{tag}/").json()
    assert tag in inspect["RepoTags"]
    assert isinstance(admin_client.get(f"{base}{tag}/history/").json(), list)
    removed = admin_client.delete(f"{base}{tag}/")
    assert removed.status_code == 200 and {"Untagged": tag} in removed.json()["removed"]
    missing = admin_client.get(f"{base}{tag}/")
    assert missing.status_code == 404 and "No such image" in missing.json()["error"]["message"]
    bad = admin_client.post(f"{base}busybox:latest/tag/", {"target": "Bad Name"}, content_type="application/json")
    assert bad.status_code == 400 and list(bad.json()["error"]["fields"]) == ["target"]
    assert docker("image", "inspect", "busybox:latest").returncode == 0


def test_export_streams_a_tar(admin_client, endpoint) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.get(f"/api/endpoints/{endpoint.pk}/images/busybox:latest/export/")
    assert response.status_code == 200 and response.streaming and response["Content-Type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(b"".join(response.streaming_content))) as tar:
        assert "manifest.json" in tar.getnames()
    assert admin_client.get(f"/api/endpoints/{endpoint.pk}/images/nothing:here/export/").json()["error"]["status"] == 404


def test_build_from_json_and_import_a_multipart_archive_as_jobs(admin_client, endpoint, docker) -> None:  # type: ignore[no-untyped-def]
    tag = f"api-test/built-{secrets.token_hex(3)}:v1"
    job = finish(admin_client.post(f"/api/endpoints/{endpoint.pk}/images/build/", {
        "text": "FROM busybox\nARG X\nRUN echo $X > /x\n", "tags": [tag], "buildargs": {"X": "forty-two"}, "nocache": True},
        content_type="application/json"))
    assert job.state == Job.SUCCEEDED, job.error + job.log
    try:
        assert docker("run", "--rm", tag, "cat", "/x").out == "forty-two"
        archive = b"".join(admin_client.get(f"/api/endpoints/{endpoint.pk}/images/{tag}/export/").streaming_content)
        docker("rmi", tag, check=True)
        upload = io.BytesIO(archive)
        upload.name = "built.tar"
        loaded = finish(admin_client.post(f"/api/endpoints/{endpoint.pk}/images/load/", {"archive": upload}))
        assert loaded.state == Job.SUCCEEDED and loaded.result["loaded"] == [tag]
    finally:
        docker("rmi", "-f", tag)
    bad = admin_client.post(f"/api/endpoints/{endpoint.pk}/images/build/", {"tags": ["x:y"]}, content_type="application/json")
    assert bad.status_code == 400 and "text" in bad.json()["error"]["fields"]


def test_pull_answers_202_with_the_job_and_validates(admin_client, endpoint) -> None:  # type: ignore[no-untyped-def]
    job = finish(admin_client.post(f"/api/endpoints/{endpoint.pk}/images/pull/", {"image": "127.0.0.1:1/nothing:v1"},
                                   content_type="application/json"))
    assert job.state == Job.FAILED and job.error  # no registry there: the reason is kept
    detail = admin_client.get(f"/api/jobs/{job.pk}/").json()
    assert detail["full_error"] == job.error and detail["kind"] == "image.pull"
    bad = admin_client.post(f"/api/endpoints/{endpoint.pk}/images/pull/", {"image": ""}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["error"]["fields"]["image"]
    assert admin_client.post("/api/endpoints/99999/images/pull/", {"image": "busybox"},
                             content_type="application/json").status_code == 404


def test_the_schema_lists_images_jobs_and_registries(admin_client) -> None:  # type: ignore[no-untyped-def]
    paths = yaml.safe_load(admin_client.get("/api/schema/").content)["paths"]
    for path in ("/api/endpoints/{eid}/images/", "/api/endpoints/{eid}/images/pull/", "/api/endpoints/{eid}/images/build/",
                 "/api/endpoints/{eid}/images/{image}/push/", "/api/jobs/", "/api/jobs/{job_id}/cancel/",
                 "/api/registries/", "/api/registries/{rid}/test/"):
        assert path in paths, path
