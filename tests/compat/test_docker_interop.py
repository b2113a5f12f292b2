"""Archives move both ways between Berth and the real Docker engine."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dockerd import Dockerd, start_dockerd
from tests.support.engine import DOCKER, EngineProcess


@pytest.fixture(scope="module")
def dockerd() -> Iterator[Dockerd]:
    d = start_dockerd()
    if d is None:
        pytest.skip("Debian's dockerd is not available")
    yield d
    d.stop()


def real(d: Dockerd, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_HOST": d.host}
    return subprocess.run([DOCKER, *args], env=env, capture_output=True, text=True, timeout=120, check=check)


def test_berth_archive_loads_into_docker_and_back(tmp_path: Path, engine: EngineProcess, dockerd: Dockerd) -> None:
    engine.docker("tag", "busybox", "interop:berth", check=True)
    berth_id = engine.docker("image", "inspect", "-f", "{{.Id}}", "interop:berth", check=True).out
    archive = tmp_path / "from-berth.tar"
    engine.docker("save", "-o", str(archive), "interop:berth", check=True)
    out = real(dockerd, "load", "-i", str(archive)).stdout
    assert "Loaded image: interop:berth" in out
    assert real(dockerd, "image", "inspect", "-f", "{{.Id}}", "interop:berth").stdout.strip() == berth_id
    assert real(dockerd, "run", "--rm", "--network", "none", "interop:berth", "echo", "ran-in-docker").stdout == "ran-in-docker\n"

    # Docker builds a new image on top of it (its own layer format), saves it, and Berth loads it.
    container = real(dockerd, "create", "--network", "none", "interop:berth", "sh", "-c", "echo layered > /from-docker").stdout.strip()
    real(dockerd, "start", "-a", container)
    real(dockerd, "commit", "--change", 'CMD ["cat", "/from-docker"]', container, "interop:docker")
    real(dockerd, "rm", container)
    archive2 = tmp_path / "from-docker.tar"
    real(dockerd, "save", "-o", str(archive2), "interop:docker")
    docker_id = real(dockerd, "image", "inspect", "-f", "{{.Id}}", "interop:docker").stdout.strip()
    assert engine.docker("load", "-i", str(archive2), check=True).out == "Loaded image: interop:docker"
    assert engine.docker("image", "inspect", "-f", "{{.Id}}", "interop:docker", check=True).out == docker_id
    assert engine.docker("run", "--rm", "interop:docker").out == "layered"
    assert len(engine.docker("history", "-q", "interop:docker", check=True).out.splitlines()) == 3
    real(dockerd, "rmi", "interop:docker", "interop:berth")
    engine.docker("rmi", "interop:docker", "interop:berth", check=True)
