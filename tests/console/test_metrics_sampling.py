"""The stats history task: it samples every running container of every endpoint and keeps one hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from console.endpoints.models import Endpoint
from console.metrics.models import StatsSample
from console.metrics.sampling import sample_all, trim
from console.metrics.tasks import SAMPLE_TASK, sample_containers

pytestmark = pytest.mark.django_db


def test_the_task_samples_running_containers_and_computes_rates(endpoint, run_busybox, docker,  # type: ignore[no-untyped-def]
                                                                 tmp_path) -> None:
    Endpoint.objects.exclude(pk=endpoint.pk).delete()
    Endpoint.objects.create(name="gone", url=f"unix://{tmp_path}/none.sock")  # unreachable: reported, not fatal
    busy = run_busybox("sh", "-c", "while :; do :; done", args=("--memory", "32m"))
    docker("wait", run_busybox("true"))  # not running: not sampled

    first = sample_containers.apply().result
    assert first["written"] == {endpoint.name: 1} and "gone" in first["errors"]
    second = sample_all().as_dict()
    assert second["written"] == {endpoint.name: 1}

    rows = list(StatsSample.objects.filter(container_id=busy).order_by("taken_at"))
    assert len(rows) == 2
    assert rows[0].mem > 0 and rows[0].mem_limit == 32 * 2**20
    assert rows[1].cpu is not None and rows[1].cpu > 20  # CPU % over the interval between the two
    assert rows[1].net_rx is not None and rows[1].blk_write is not None


def test_trim_keeps_one_hour(endpoint) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    for minutes in (61, 59, 1):
        StatsSample.objects.create(endpoint=endpoint, container_id="c" * 64, taken_at=now - timedelta(minutes=minutes))
    assert trim(now) == 1
    assert StatsSample.objects.count() == 2


def test_the_beat_schedule_samples_every_ten_seconds() -> None:
    from console.celery import app

    entry = app.conf.beat_schedule[SAMPLE_TASK]
    assert entry["task"] == SAMPLE_TASK and entry["schedule"] == 10.0
