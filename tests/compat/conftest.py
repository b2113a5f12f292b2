"""Fixtures for side-by-side checks: the Docker SDK's low-level client on Berth and on the real Docker engine."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import docker as docker_sdk
import pytest

from tests.support.dockerd import Dockerd, start_dockerd
from tests.support.engine import DOCKER, EngineProcess

PROBE_IMAGE = "berth-compat-probe:1"


@pytest.fixture
def api(engine: EngineProcess) -> Iterator[docker_sdk.APIClient]:
    """docker-py's APIClient on the session's engine; containers made in the test are removed after it."""
    client = docker_sdk.APIClient(base_url=engine.host, version="1.41", timeout=60)
    before = {c["Id"] for c in client.containers(all=True)}
    yield client
    for c in client.containers(all=True):
        if c["Id"] not in before:
            client.remove_container(c["Id"], force=True, v=True)
    client.close()


@dataclass
class RealDocker:
    api: docker_sdk.APIClient
    image: str  # Berth's busybox, loaded into Docker under PROBE_IMAGE


@pytest.fixture(scope="module")
def real_docker(engine: EngineProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealDocker]:
    """The real Docker engine with Berth's busybox, so both start from identical layers; left as it was found."""
    d: Dockerd | None = start_dockerd()
    if d is None:
        pytest.skip("Debian's dockerd is not available")
    archive = tmp_path_factory.mktemp("probe") / "image.tar"
    engine.docker("tag", "busybox", PROBE_IMAGE, check=True)
    engine.docker("save", "-o", str(archive), PROBE_IMAGE, check=True)
    env = {**os.environ, "DOCKER_HOST": d.host}
    subprocess.run([DOCKER, "load", "-i", str(archive)], env=env, check=True, capture_output=True, timeout=120)
    client = docker_sdk.APIClient(base_url=d.host, version="1.41", timeout=60)
    before = {c["Id"] for c in client.containers(all=True)}
    try:
        yield RealDocker(client, PROBE_IMAGE)
    finally:
        for c in client.containers(all=True):
            if c["Id"] not in before:
                client.remove_container(c["Id"], force=True, v=True)
        subprocess.run([DOCKER, "rmi", PROBE_IMAGE], env=env, check=False, capture_output=True, timeout=120)
        client.close()
        engine.docker("rmi", PROBE_IMAGE)
        d.stop()
