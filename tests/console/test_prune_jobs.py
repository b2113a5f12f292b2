"""Prunes of containers, images and networks as background jobs (console/containers/prunes.py), against the
session's real Berth engine; each removed thing is an item of the job. (Volumes: test_volumes_jobs.py.)"""

from __future__ import annotations

import secrets

import pytest
from django.urls import reverse

from console.audit.models import Activity
from console.containers import prunes  # noqa: F401 - registers the prune job kinds
from console.jobs.framework import execute
from console.jobs.models import Job

pytestmark = pytest.mark.django_db(transaction=True)


def run_latest(kind: str) -> Job:
    job = Job.objects.filter(kind=kind).latest("pk")
    execute(job.pk, job.dispatches)
    job.refresh_from_db()
    return job


def prune(client, endpoint, what: str, htmx: bool = True, **data):  # type: ignore[no-untyped-def]
    extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(reverse(f"{what}:prune", kwargs={"eid": endpoint.pk}), data, **extra)


def test_removing_stopped_containers_keeps_the_running_ones(admin_client, endpoint, run_busybox, docker) -> None:  # type: ignore[no-untyped-def]
    running = run_busybox("sleep", "60", name=f"keep-{secrets.token_hex(3)}")
    stopped = docker("create", "--name", f"gone-{secrets.token_hex(3)}", "busybox", "true").stdout.strip()
    page = admin_client.get(reverse("containers:list", kwargs={"eid": endpoint.pk})).content.decode()
    assert "Remove stopped" in page and "js/job-panel.js" in page
    body = prune(admin_client, endpoint, "containers").content.decode()
    assert "data-job-panel=" in body and "data-job-reload" in body
    job = run_latest("prune.containers")
    assert job.state == Job.SUCCEEDED, job.error
    assert stopped[:12] in job.result["removed"] and running[:12] not in job.result["removed"]
    assert any(item["id"] == stopped[:12] and item["status"] == "Removed" for item in job.items)
    assert docker("inspect", stopped).returncode != 0 and docker("inspect", running).returncode == 0
    assert Activity.objects.get(action="container.prune").outcome == Activity.SUCCESS


def test_image_prune_removes_dangling_images(admin_client, endpoint, run_busybox, docker) -> None:  # type: ignore[no-untyped-def]
    cid = docker("create", "busybox", "true").stdout.strip()
    dangling = docker("commit", cid).stdout.strip()  # an image without a tag
    docker("rm", cid)
    response = prune(admin_client, endpoint, "images", htmx=False)
    job = run_latest("prune.images")
    assert response["Location"] == job.get_absolute_url()
    assert job.state == Job.SUCCEEDED, job.error
    assert docker("image", "inspect", dangling).returncode != 0
    assert docker("image", "inspect", "busybox").returncode == 0  # tagged: kept
    assert job.result["removed"] and Activity.objects.get(action="image.prune").outcome == Activity.SUCCESS


def test_network_prune_keeps_networks_in_use(admin_client, endpoint, run_busybox, docker) -> None:  # type: ignore[no-untyped-def]
    used, unused = f"used-{secrets.token_hex(3)}", f"unused-{secrets.token_hex(3)}"
    docker("network", "create", used, check=True)
    docker("network", "create", unused, check=True)
    try:
        run_busybox("sleep", "60", args=("--network", used))
        prune(admin_client, endpoint, "networks")
        job = run_latest("prune.networks")
        assert job.state == Job.SUCCEEDED, job.error
        assert unused in job.result["removed"] and used not in job.result["removed"]
        assert job.result["summary"].startswith("Removed ")
        assert docker("network", "inspect", unused).returncode != 0
        assert docker("network", "inspect", used).returncode == 0
        assert docker("network", "inspect", "bridge").returncode == 0
    finally:
        docker("network", "rm", used)
        docker("network", "rm", unused)


def test_prunes_are_for_endpoint_administrators(client, django_user_model, endpoint) -> None:  # type: ignore[no-untyped-def]
    client.force_login(django_user_model.objects.create_user(f"u-{secrets.token_hex(3)}", password="x" * 20))
    for what in ("containers", "images", "networks", "volumes"):
        assert prune(client, endpoint, what).status_code == 403
    assert not Job.objects.filter(kind__startswith="prune.").exists()
