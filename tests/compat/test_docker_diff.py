"""`docker diff` on Berth says what the real Docker engine says, for the same image and commands."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dockerd import Dockerd, start_dockerd
from tests.support.engine import DOCKER, EngineProcess

IMAGE = "berth-diff-probe:1"
SCRIPTS = {
    "adds, changes and deletes": "touch /new; rm /bin/ls; echo x >> /etc/passwd; mkdir -p /a/b; rm -rf /home",
    "opaque dirs, modes, links": "rm -rf /var/spool; mkdir -p /var/spool/new; chmod 700 /tmp; touch /bin; "
                                 "ln -s /x /lnk; mkdir /usr/local; touch /usr/local/f; mkdir -p /root/.config/app; "
                                 "chown 1:1 /var/www; rm /etc/group",
    "nothing": "true",
    "the init layer: /etc/mtab and /.dockerenv": "rm -rf /etc; test -e /.dockerenv",
}


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


@pytest.fixture(scope="module")
def same_image(engine: EngineProcess, dockerd: Dockerd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Berth's busybox, loaded into Docker too, so both engines start from identical layers."""
    archive: Path = tmp_path_factory.mktemp("diff") / "image.tar"
    engine.docker("tag", "busybox", IMAGE, check=True)
    engine.docker("save", "-o", str(archive), IMAGE, check=True)
    real(dockerd, "load", "-i", str(archive))
    yield IMAGE
    real(dockerd, "rmi", IMAGE, check=False)
    engine.docker("rmi", IMAGE)


@pytest.mark.parametrize("script", list(SCRIPTS.values()), ids=list(SCRIPTS))
def test_it_reports_what_docker_reports(engine: EngineProcess, dockerd: Dockerd, same_image: str, script: str,
                                        docker) -> None:  # type: ignore[no-untyped-def]
    theirs = real(dockerd, "run", "-d", "--network", "none", same_image, "sh", "-c", script).stdout.strip()
    try:
        real(dockerd, "wait", theirs)
        expected = sorted(real(dockerd, "diff", theirs).stdout.splitlines())
    finally:
        real(dockerd, "rm", "-f", theirs, check=False)
    ours = docker("run", "-d", same_image, "sh", "-c", script, check=True).out
    docker("wait", ours, check=True)
    assert sorted(docker("diff", ours, check=True).stdout.splitlines()) == expected
    if script == "true":
        assert expected == []
