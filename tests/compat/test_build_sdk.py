"""docker-py's build options as the classic builder honours them: cache_from, extra_hosts, stderr, Dockerfiles."""

from __future__ import annotations

import io
from pathlib import Path

import docker as docker_sdk

SCRIPT = b"FROM busybox\nENV FOO=bar\nRUN touch baz\nRUN touch bax\n"


def _build(api: docker_sdk.APIClient, **kwargs) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    return list(api.build(decode=True, **kwargs))


def _cache_hits(chunks: list[dict]) -> int:  # type: ignore[type-arg]
    return sum("Using cache" in c.get("stream", "") for c in chunks)


def test_cache_from_replaces_the_local_cache(api: docker_sdk.APIClient) -> None:
    try:
        _build(api, fileobj=io.BytesIO(SCRIPT), tag="cachefrom1")
        assert _cache_hits(_build(api, fileobj=io.BytesIO(SCRIPT), tag="cachefrom2", cache_from=["cachefrom1"])) == 3
        api.remove_image("cachefrom2")
        assert _cache_hits(_build(api, fileobj=io.BytesIO(SCRIPT), tag="cachefrom2", cache_from=["nosuchtag"])) == 0
        assert _cache_hits(_build(api, fileobj=io.BytesIO(SCRIPT), tag="cachefrom3")) == 3
    finally:
        for tag in ("cachefrom1", "cachefrom2", "cachefrom3"):
            api.remove_image(tag, force=True)


def test_a_steps_stderr_is_shown_in_red(api: docker_sdk.APIClient) -> None:
    script = b"FROM busybox\nRUN sh -c \">&2 echo 'to stderr'; echo 'to stdout'\"\n"
    lines = [c.get("stream") for c in _build(api, fileobj=io.BytesIO(script), nocache=True)]
    assert "\x1b[91mto stderr\n\x1b[0m" in lines and "to stdout\n" in lines


def test_extra_hosts_reach_the_build_steps(api: docker_sdk.APIClient) -> None:
    script = b"FROM busybox\nRUN ping -c1 -W1 extrahost.local.test\nRUN cp /etc/hosts /hosts-file\n"
    chunks = _build(api, fileobj=io.BytesIO(script), tag="extrahosts", extra_hosts={"extrahost.local.test": "127.0.0.1"})
    try:
        assert not [c for c in chunks if "errorDetail" in c]
        ctr = api.create_container("extrahosts", ["cat", "/hosts-file"])
        api.start(ctr)
        api.wait(ctr)
        assert b"127.0.0.1\textrahost.local.test" in api.logs(ctr)
    finally:
        api.remove_image("extrahosts", force=True)


def _ls(api: docker_sdk.APIClient, image: str, path: str) -> list[bytes]:
    ctr = api.create_container(image, ["ls", "-a", path])
    api.start(ctr)
    api.wait(ctr)
    return sorted(api.logs(ctr).split())


def test_a_dockerfile_outside_the_context(api: docker_sdk.APIClient, tmp_path: Path) -> None:
    """docker-py sends `dockerfile` twice (name, then content): Docker takes the first value, as Go's FormValue."""
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "file.txt").write_text("hello")
    (tmp_path / "ctx" / ".dockerignore").write_text(".dockerignore\n")
    (tmp_path / "Dockerfile").write_text("FROM busybox\nCOPY . /src\n")
    chunks = _build(api, path=str(tmp_path / "ctx"), dockerfile=str(tmp_path / "Dockerfile"), tag="outofcontext")
    try:
        assert "Successfully tagged" in chunks[-1]["stream"]
        assert _ls(api, "outofcontext", "/src") == [b".", b"..", b"file.txt"]
    finally:
        api.remove_image("outofcontext", force=True)


def test_dockerignore_drops_itself_and_the_dockerfile_when_it_names_them(api: docker_sdk.APIClient,
                                                                         tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\nADD . /test\n")
    (tmp_path / ".dockerignore").write_text("ignored\nDockerfile\n.dockerignore\n!ignored/kept\n")
    (tmp_path / "ignored").mkdir()
    (tmp_path / "ignored" / "kept").write_text("x")
    (tmp_path / "ignored" / "gone").write_text("x")
    (tmp_path / "not-ignored").write_text("x")
    _build(api, path=str(tmp_path), tag="dockerignored")
    try:
        assert _ls(api, "dockerignored", "/test") == [b".", b"..", b"ignored", b"not-ignored"]
        assert _ls(api, "dockerignored", "/test/ignored") == [b".", b"..", b"kept"]
    finally:
        api.remove_image("dockerignored", force=True)


def test_prune_builds_answers_like_the_classic_builder(api: docker_sdk.APIClient) -> None:
    assert api.prune_builds() == {"CachesDeleted": None, "SpaceReclaimed": 0}
