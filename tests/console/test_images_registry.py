"""Pull and push as jobs against Debian's docker-registry on loopback: per-layer progress (live over the
job's websocket), results and links; the "update available" marker when the registry's digest moves."""

from __future__ import annotations

import secrets
import shutil
import threading
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from asgiref.sync import sync_to_async

from console.images import updates
from console.images.operations import list_rows
from console.jobs.framework import execute
from console.jobs.models import Job
from tests.console.registry_helpers import SlowProxy, push_big_image
from tests.console.websockets import communicator, connect, receive_json_until, run
from tests.support.registry import Registry, start_registry

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(shutil.which("docker-registry") is None, reason="Debian's docker-registry is not installed")]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = start_registry(tmp_path_factory.mktemp("console-registry"))
    yield reg
    reg.stop()


def run_job(job_id: int) -> Job:
    job = Job.objects.get(pk=job_id)
    execute(job.pk, job.dispatches)
    job.refresh_from_db()
    return job


def job_of(response) -> int:  # type: ignore[no-untyped-def]
    assert response.status_code == 302, response.content.decode()[:2000]
    return int(response["Location"].strip("/").split("/")[1])


def hex_of(docker, ref: str) -> str:  # type: ignore[no-untyped-def]
    return docker("image", "inspect", "-f", "{{.Id}}", ref, check=True).out.removeprefix("sha256:")


def test_push_then_pull_as_jobs_with_a_bar_per_layer(admin_client, endpoint, registry: Registry, docker) -> None:  # type: ignore[no-untyped-def]
    tag = f"{registry.host}/console/bb-{secrets.token_hex(3)}:v1"
    docker("tag", "busybox", tag, check=True)
    image = hex_of(docker, tag)
    pushed = run_job(job_of(admin_client.post(f"/endpoints/{endpoint.pk}/images/{image[:12]}/push/", {"tag": tag})))
    assert pushed.state == Job.SUCCEEDED, pushed.error + pushed.log
    assert pushed.result["digest"].startswith("sha256:") and pushed.items
    assert all(i["fraction"] == 1 and i["status"] in ("Pushed", "Layer already exists") for i in pushed.items)
    docker("rmi", tag, check=True)
    pulled = run_job(job_of(admin_client.post(f"/endpoints/{endpoint.pk}/images/pull/", {"image": tag})))
    try:
        assert pulled.state == Job.SUCCEEDED, pulled.error + pulled.log
        assert pulled.progress == 1 and pulled.items and all(i["fraction"] == 1 for i in pulled.items)
        assert "Pull complete" in pulled.log or "Already exists" in pulled.log
        assert pulled.result["image_id"] == f"sha256:{image}"
        assert pulled.result["links"] == [{"label": "Open image", "url": f"/endpoints/{endpoint.pk}/images/{image[:12]}/"}]
        page = admin_client.get(f"/endpoints/{endpoint.pk}/images/{image[:12]}/").content.decode()
        assert f"{registry.host}/console/bb-" in page and "Pulled as" in page and pushed.result["digest"] in page
    finally:
        docker("rmi", "-f", tag)


def test_a_pull_shows_each_layers_progress_live(admin_client, admin_user, endpoint, engine, registry: Registry) -> None:  # type: ignore[no-untyped-def]
    tag = push_big_image(engine, registry.host, f"console/big-{secrets.token_hex(3)}")
    proxy = SlowProxy(registry.port, rate=3_000_000).start()
    slow_tag = tag.replace(registry.host, proxy.host)
    job_id = job_of(admin_client.post(f"/endpoints/{endpoint.pk}/images/pull/", {"image": slow_tag}))
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

    try:
        messages = run(scenario)
        job = Job.objects.get(pk=job_id)
        assert job.state == Job.SUCCEEDED, job.error + job.log
        partial = [i for m in messages for i in m["detail"]["items"] if 0 < (i.get("fraction") or 0) < 1]
        assert partial, "no layer was seen part-way"
        assert any(i["status"] == "Downloading" and i["total"] for i in partial)
        overall = [m["job"]["progress"] for m in messages if m["job"]["state"] == "running" and m["job"]["progress"]]
        assert overall and min(overall) < 1
    finally:
        proxy.stop()
        engine.docker("rmi", "-f", slow_tag)


def test_a_pull_of_a_missing_tag_fails_with_the_registrys_words(admin_client, endpoint, registry: Registry) -> None:  # type: ignore[no-untyped-def]
    job = run_job(job_of(admin_client.post(f"/endpoints/{endpoint.pk}/images/pull/", {"image": f"{registry.host}/no/such:v9"})))
    assert job.state == Job.FAILED and "not found" in job.error.lower()
    bad = admin_client.post(f"/endpoints/{endpoint.pk}/images/pull/", {"image": "UPPER/case"})
    assert bad.status_code == 400 and "lowercase" in bad.content.decode()


def test_update_available_when_the_registrys_digest_for_the_tag_moves(admin_client, endpoint, registry: Registry, docker) -> None:  # type: ignore[no-untyped-def]
    tag = f"{registry.host}/console/upd-{secrets.token_hex(3)}:v1"
    docker("build", "-q", "-t", tag, "-", input=f"FROM busybox\nLABEL console.test={secrets.token_hex(4)}\n", check=True)
    docker("push", tag, check=True)
    docker("rmi", tag, check=True)
    docker("pull", tag, check=True)  # now the local tag carries the registry's digest
    old = hex_of(docker, tag)
    newer = docker("build", "-q", "-", input=f"FROM busybox\nLABEL console.test=newer-{secrets.token_hex(4)}\n", check=True).out
    try:
        docker("tag", newer, tag, check=True)
        docker("push", tag, check=True)  # the registry's v1 moves on
        docker("tag", old, tag, check=True)  # while this engine keeps the old one under that tag
        rows = list_rows(endpoint)
        assert tag in updates.checkable(rows)
        assert updates.run_checks(endpoint.pk, [tag])[tag].startswith("sha256:")
        assert updates.markers(endpoint, list_rows(endpoint))[tag].state == "update"
        page = admin_client.get(f"/endpoints/{endpoint.pk}/images/").content.decode()
        assert "Update available" in page and f"?image={quote(tag, safe='/')}" in page
        pulled = run_job(job_of(admin_client.post(f"/endpoints/{endpoint.pk}/images/pull/", {"image": tag})))
        assert pulled.state == Job.SUCCEEDED, pulled.error
        updates.run_checks(endpoint.pk, [tag])
        assert updates.markers(endpoint, list_rows(endpoint))[tag].state == "current"
    finally:
        docker("rmi", "-f", tag, newer, old)


def test_update_checks_are_queued_not_awaited(admin_client, endpoint, registry: Registry, docker) -> None:  # type: ignore[no-untyped-def]
    tag = f"{registry.host}/console/queued-{secrets.token_hex(3)}:v1"
    docker("tag", "busybox", tag, check=True)
    docker("push", tag, check=True)
    docker("rmi", tag, check=True)
    docker("pull", tag, check=True)
    try:
        assert updates.request_checks(endpoint, [tag]) == [tag]
        assert updates.markers(endpoint, list_rows(endpoint))[tag].state == "checking"
        assert updates.request_checks(endpoint, [tag]) == []  # asked already
        assert "Checking" in admin_client.get(f"/endpoints/{endpoint.pk}/images/").content.decode()
        forced = admin_client.post(f"/endpoints/{endpoint.pk}/images/updates/", follow=True)
        assert forced.status_code == 200 and "already running" in forced.content.decode()
    finally:
        docker("rmi", "-f", tag)


def test_the_registry_client_reads_a_tags_digest(registry: Registry, docker) -> None:  # type: ignore[no-untyped-def]
    from console.images.registry_http import RegistryQueryError, manifest_digest, split

    assert split("busybox") == ("registry-1.docker.io", "library/busybox", "latest")
    assert split("127.0.0.1:5000/team/app:v2") == ("127.0.0.1:5000", "team/app", "v2")
    tag = f"{registry.host}/console/direct-{secrets.token_hex(3)}:v1"
    docker("tag", "busybox", tag, check=True)
    pushed = docker("push", tag, check=True).stdout
    try:
        assert manifest_digest(tag) == pushed.split("digest: ")[1].split()[0]
        with pytest.raises(RegistryQueryError, match="is not in the registry"):
            manifest_digest(f"{registry.host}/console/none:v1")
    finally:
        docker("rmi", "-f", tag)
