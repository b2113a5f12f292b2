"""Volume export, import and prune as background jobs, against the session's real Berth engine.

Each job is started through its page and run in the test process as a worker would
(console.jobs.framework.execute); the export's kept file, its download (requester and
administrators only) and its expiry are checked on disk.
"""

from __future__ import annotations

import io
import secrets
import tarfile
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from console.audit.models import Activity
from console.jobs import lifecycle
from console.jobs.framework import execute
from console.jobs.models import Job
from console.volumes import exports
from console.volumes import jobs as volume_jobs  # noqa: F401 - registers the volume job kinds
from tests.console.access_roles import make_people
from tests.console.test_volumes import body_of, fill, fresh, helpers, url

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def volume_names(docker):  # type: ignore[no-untyped-def]
    names: list[str] = []
    yield names
    for name in names:
        docker("volume", "rm", "-f", name)


def run_job(job_id: int) -> Job:
    job = Job.objects.get(pk=job_id)
    execute(job.pk, job.dispatches)
    job.refresh_from_db()
    return job


def job_of(response) -> int:  # type: ignore[no-untyped-def]
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"].startswith("/jobs/"), response["Location"]
    return int(response["Location"].strip("/").split("/")[1])


def tar_with(name: str, data: bytes = b"hi", kind: bytes = tarfile.REGTYPE) -> io.BytesIO:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as t:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.size = len(data) if kind == tarfile.REGTYPE else 0
        t.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    out.seek(0)
    out.name = "upload.tar"
    return out


def test_export_remove_import_and_the_data_is_back(admin_client, admin_user, endpoint, docker, volume_names, tmp_path) -> None:  # type: ignore[no-untyped-def]
    name = fresh()
    volume_names.append(name)
    fill(docker, name, "mkdir -p /data/db && head -c 200000 /dev/urandom > /data/db/blob && echo 42 > /data/db/answer "
                       "&& chown -R 123:456 /data/db && md5sum /data/db/blob > /data/sum")

    job = run_job(job_of(admin_client.post(url("export", endpoint.pk, name))))
    assert job.state == Job.SUCCEEDED, job.error
    assert job.kind == "volume.export" and job.user == admin_user and job.progress == 1.0
    assert job.result["file"].startswith(f"{name}-") and job.result["size"] > 200000
    download = exports.download_url(job.pk, endpoint.pk)
    assert download in [link["url"] for link in job.links]
    kept = exports.export_file(job)
    assert kept is not None and kept.parent.stat().st_mode & 0o777 == 0o700

    response = admin_client.get(download)
    assert response.status_code == 200 and response["Content-Type"] == "application/x-tar"
    assert response["Content-Disposition"].startswith(f'attachment; filename="{name}-')
    archive = tmp_path / "backup.tar"
    archive.write_bytes(body_of(response))
    with tarfile.open(archive) as t:
        assert {"./db/blob", "./db/answer", "./sum"} <= set(t.getnames())
    assert Activity.objects.get(action="volume.export", target=job.title).outcome == Activity.SUCCESS
    assert Activity.objects.filter(action="volume.export.download", target=name).exists()

    docker("volume", "rm", name, check=True)
    with archive.open("rb") as f:
        job = run_job(job_of(admin_client.post(url("import", endpoint.pk), {"name": name, "archive": f})))
    assert job.state == Job.SUCCEEDED, job.error
    assert job.result["members"] >= 4 and job.progress == 1.0
    assert url("detail", endpoint.pk, name) in [link["url"] for link in job.links]
    assert not lifecycle.uploads_dir(job.pk).exists()  # the upload goes when the job ends

    check = docker("run", "--rm", "-v", f"{name}:/data", "busybox", "sh", "-c",
                   "cat /data/db/answer && md5sum -c /data/sum && stat -c '%u:%g' /data/db/blob")
    assert check.returncode == 0, check.stderr
    assert check.stdout.split("\n")[0] == "42" and ": OK" in check.stdout and "123:456" in check.stdout
    assert Activity.objects.get(action="volume.import", target=job.title).outcome == Activity.SUCCESS
    assert Activity.objects.get(action="volume.create", target=name).outcome == Activity.SUCCESS
    assert not helpers(docker)


def test_the_download_is_for_its_requester_and_administrators_and_expires(
        admin_client, client, endpoint, docker, volume_names) -> None:  # type: ignore[no-untyped-def]
    name = fresh()
    volume_names.append(name)
    fill(docker, name, "echo kept > /data/file")
    job = run_job(job_of(admin_client.post(url("export", endpoint.pk, name))))
    download = exports.download_url(job.pk, endpoint.pk)

    people, _ = make_people(endpoint)
    client.force_login(people["none"])  # no role on the endpoint
    assert client.get(download).status_code == 403
    client.force_login(people["standard"])  # may export volumes there, but this export is not theirs
    assert client.get(download).status_code == 404
    assert Activity.objects.filter(action="access.denied", target=download, message="not your export").exists()
    client.force_login(people["admin"])
    assert client.get(download).status_code == 200

    exports.expire()  # within its retention: kept
    assert exports.export_file(Job.objects.get(pk=job.pk)) is not None
    Job.objects.filter(pk=job.pk).update(finished_at=timezone.now() - exports.retention() - timedelta(minutes=1))
    assert exports.expire() == 1
    job.refresh_from_db()
    assert job.result["expired"] is True and download not in [link["url"] for link in job.links]
    assert not (exports.exports_root() / str(job.pk)).exists()
    response = admin_client.get(download, follow=True)
    assert "The export is gone: exports are kept 24 h" in response.content.decode()


def test_a_failed_export_leaves_no_file(admin_client, endpoint) -> None:  # type: ignore[no-untyped-def]
    from console.volumes.jobs import start_export

    job = start_export(None, endpoint, "no-such-volume-" + secrets.token_hex(3))
    job = run_job(job.pk)
    assert job.state == Job.FAILED and "no such volume" in job.error
    assert not (exports.exports_root() / str(job.pk)).exists()
    assert admin_client.post(url("export", endpoint.pk, "no-such-volume")).status_code == 302  # the page says so first


@pytest.mark.parametrize(("archive", "words"), [
    (io.BytesIO(b"not a tar" * 100), "Not a tar archive"),
    (tar_with("../outside"), "is not a path inside the volume"),
    (tar_with("/etc/passwd"), "is not a path inside the volume"),
    (tar_with("dev/sda", kind=tarfile.BLKTYPE), "is a device file"),
])
def test_an_unsafe_archive_is_refused_on_its_field_before_anything_is_made(admin_client, endpoint, docker, archive, words) -> None:  # type: ignore[no-untyped-def]
    name = fresh()
    before = Job.objects.count()
    response = admin_client.post(url("import", endpoint.pk), {"name": name, "archive": archive})
    assert response.status_code == 400
    assert words in response.context["form"].errors["archive"][0]
    assert Job.objects.count() == before  # no job, no upload kept
    assert docker("volume", "inspect", name).returncode != 0
    assert Activity.objects.get(action="volume.import", target=name).outcome == Activity.FAILURE


def test_prune_runs_as_a_job_shown_live_on_the_list(admin_client, endpoint, docker, volume_names, run_busybox) -> None:  # type: ignore[no-untyped-def]
    kept, gone = fresh("kept"), fresh("gone")
    volume_names.extend([kept, gone])
    docker("volume", "create", gone, check=True)
    run_busybox("sleep", "60", args=("-v", f"{kept}:/srv"))
    page = admin_client.get(url("list", endpoint.pk)).content.decode()
    assert 'hx-post="' + url("prune", endpoint.pk) in page and "js/job-panel.js" in page

    panel = admin_client.post(url("prune", endpoint.pk), HTTP_HX_REQUEST="true")
    body = panel.content.decode()
    assert panel.status_code == 200 and "data-job-panel=" in body and "Prune unused volumes" in body
    job = run_job(Job.objects.filter(kind="prune.volumes").latest("pk").pk)
    assert job.state == Job.SUCCEEDED, job.error
    assert gone in job.result["removed"] and kept not in job.result["removed"]
    assert any(item["id"] == gone and item["status"] == "Removed" for item in job.items)
    assert docker("volume", "inspect", gone).returncode != 0
    assert docker("volume", "inspect", kept).returncode == 0
    assert Activity.objects.get(action="volume.prune", target="volumes").outcome == Activity.SUCCESS
    assert job_of(admin_client.post(url("prune", endpoint.pk)))  # without htmx: the job's page
    assert reverse("jobs:detail", kwargs={"job_id": job.pk}) in body


def test_the_api_runs_export_import_and_prune_as_jobs_on_request(admin_client, endpoint, docker, volume_names, tmp_path) -> None:  # type: ignore[no-untyped-def]
    name = fresh("api")
    volume_names.append(name)
    fill(docker, name, "echo via-api > /data/f")
    base = f"/api/endpoints/{endpoint.pk}/volumes/"

    started = admin_client.post(f"{base}{name}/export/")
    assert started.status_code == 202 and started["Location"] == f"/api/jobs/{started.json()['id']}/"
    job = run_job(started.json()["id"])
    assert job.state == Job.SUCCEEDED and job.result["download"] == f"{base}exports/{job.pk}/"
    tar = body_of(admin_client.get(job.result["download"]))
    (tmp_path / "x.tar").write_bytes(tar)
    with tarfile.open(tmp_path / "x.tar") as t:
        assert "./f" in t.getnames()
    assert admin_client.post(f"{base}no-such-volume/export/").json()["error"]["status"] == 404

    docker("volume", "rm", name, check=True)
    with (tmp_path / "x.tar").open("rb") as f:
        started = admin_client.post(f"{base}{name}/import/?background=1", {"archive": f})
    assert started.status_code == 202, started.content
    assert run_job(started.json()["id"]).state == Job.SUCCEEDED
    assert docker("run", "--rm", "-v", f"{name}:/d", "busybox", "cat", "/d/f").stdout.strip() == "via-api"
    refused = admin_client.post(f"{base}{name}/import/?background=1", {"archive": tar_with("../x")})
    assert refused.status_code == 400 and "is not a path inside the volume" in refused.json()["error"]["fields"]["archive"][0]

    started = admin_client.post(f"{base}prune/?background=1")
    assert started.status_code == 202 and Job.objects.get(pk=started.json()["id"]).kind == "prune.volumes"
    Job.objects.filter(pk=started.json()["id"]).update(state=Job.CANCELLED)  # not run: it would prune the session's volumes
    schema = admin_client.get("/api/schema/?format=json").json()
    assert "202" in schema["paths"]["/api/endpoints/{eid}/volumes/{name}/export/"]["post"]["responses"]
    assert "/api/endpoints/{eid}/volumes/exports/{job_id}/" in schema["paths"]
