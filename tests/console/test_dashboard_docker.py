"""The dashboard, the endpoint row and the status API against the real Docker engine (Debian's docker.io)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from console.endpoints.models import Endpoint
from tests.support.dockerd import Dockerd, start_dockerd

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def dockerd() -> Iterator[Dockerd]:
    d = start_dockerd()
    if d is None:
        pytest.skip("Debian's dockerd is not available")
    yield d
    d.stop()


def test_a_docker_engine_is_an_endpoint_like_any_other(admin_client, dockerd) -> None:  # type: ignore[no-untyped-def]
    docker = Endpoint.objects.create(name="real-docker", url=dockerd.host)
    board = admin_client.get(f"/endpoints/{docker.pk}/").context["board"]
    assert board.status.up, board.status.error
    assert board.status.version and board.status.api_version and board.status.cpus >= 1
    assert board.status.networks >= 1  # Docker always has host and none
    assert board.status.containers == board.status.containers_running + board.status.containers_paused + board.status.containers_stopped

    row = admin_client.get(f"/endpoints/{docker.pk}/row/").content.decode()
    assert "Reachable" in row and board.status.version in row
    stats = admin_client.get(f"/endpoints/{docker.pk}/stats/")
    assert stats.status_code == 200 and "Unreachable" not in stats.content.decode()
    api = admin_client.get(f"/api/endpoints/{docker.pk}/status/").json()
    assert api["reachable"] is True and api["version"] == board.status.version
