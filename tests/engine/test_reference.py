from __future__ import annotations

import pytest

from engine.errors import InvalidArgument
from engine.images import reference


@pytest.mark.parametrize("text,full,familiar", [
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("user/app", "docker.io/user/app:latest", "user/app:latest"),
    ("docker.io/library/busybox:latest", "docker.io/library/busybox:latest", "busybox:latest"),
    ("index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("localhost:5000/app:v1", "localhost:5000/app:v1", "localhost:5000/app:v1"),
    ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
    ("ghcr.io/org/team/app:1.0", "ghcr.io/org/team/app:1.0", "ghcr.io/org/team/app:1.0"),
])
def test_it_normalises_like_docker(text: str, full: str, familiar: str) -> None:
    ref = reference.parse(text)
    assert str(ref) == full
    assert ref.familiar() == familiar


def test_it_keeps_digests() -> None:
    digest = "sha256:" + "a" * 64
    ref = reference.parse(f"busybox@{digest}")
    assert ref.tag is None and ref.digest == digest
    assert ref.familiar() == f"busybox@{digest}"


@pytest.mark.parametrize("bad", ["", "UPPER", "bad name", "a" * 64, "busybox:", ":tag", "a//b", "-lead"])
def test_it_refuses_bad_references(bad: str) -> None:
    with pytest.raises(InvalidArgument):
        reference.parse(bad)


def test_repo_with_separate_tag() -> None:
    assert str(reference.parse_repo_tag("docker.io/library/app", "v2")) == "docker.io/library/app:v2"
    assert str(reference.parse_repo_tag("app:v3", None)) == "docker.io/library/app:v3"
    with pytest.raises(InvalidArgument):
        reference.parse_repo_tag("app", "bad tag")
