"""Helpers for the stacks tests (no tests here): the course's project (busybox stand-ins from tests/compat/test_compose.py),
its images built through the engine, a recording Reporter, and cleanup of everything a project made."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path
from typing import Any

from tests.compat.test_compose import COURSE_COMPOSE, course_project

# The course's file with the host port range from the stack's variables, as the console deploys it.
COURSE = COURSE_COMPOSE


def project_name() -> str:
    return f"st{secrets.token_hex(3)}"


def build_course_images(engine: Any, root: Path, suffix: str) -> dict[str, str]:
    """Build the app and db images under tags of this test's own; {"app": tag, "db": tag}."""
    project = course_project(root, f"images-{suffix}", COURSE_COMPOSE)
    tags = {"app": f"northwind-app-{suffix}:v1", "db": f"northwind-db-{suffix}:v1"}
    for service, tag in tags.items():
        env = {**engine.env, "DOCKER_BUILDKIT": "0"}
        proc = subprocess.run(["docker", "build", "-q", "-t", tag, str(project / service)], env=env,
                              capture_output=True, text=True, timeout=180, check=False)
        assert proc.returncode == 0, proc.stderr
    return tags


def course_text(tags: dict[str, str]) -> str:
    """The course's compose file using the given image tags."""
    return COURSE_COMPOSE.replace("northwind-app:v1", tags["app"]).replace("northwind-db:v1", tags["db"])


class Recorder:
    """A Reporter (console/stacks/compose/apply.py) that keeps what it was told."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.statuses: list[str] = []

    def status(self, text: str, fraction: float | None = None) -> None:
        self.statuses.append(text)

    def item(self, key: str, label: str, status: str, fraction: float | None = None) -> None:
        pass

    def log(self, line: str) -> None:
        self.lines.append(line)

    def check(self) -> None:
        pass


def cleanup_project(engine: Any, name: str) -> None:
    """Remove every container, network and volume labelled with project `name` on the engine."""
    label = f"label=com.docker.compose.project={name}"
    ids = engine.docker("ps", "-aq", "--filter", label).stdout.split()
    if ids:
        engine.docker("rm", "-f", *ids, timeout=120)
    nets = engine.docker("network", "ls", "-q", "--filter", label).stdout.split()
    if nets:
        engine.docker("network", "rm", *nets)
    vols = engine.docker("volume", "ls", "-q", "--filter", label).stdout.split()
    if vols:
        engine.docker("volume", "rm", "-f", *vols)
