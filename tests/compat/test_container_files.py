"""docker cp (the archive endpoints), export and commit, through docker-py, as the real Docker engine answers them."""

from __future__ import annotations

import io
import os
import re
import tarfile

import docker as docker_sdk
import pytest

from tests.compat.conftest import RealDocker

SETUP = "mkdir -p /d/e && echo x > /d/e/g && ln -s /d/e/g /lnk && echo hi > /vol1/f"


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _names(chunks) -> list[str]:  # type: ignore[no-untyped-def]
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        return sorted(m.name for m in tar.getmembers())


def _prepared(client: docker_sdk.APIClient, image: str) -> str:
    ctr = client.create_container(image, ["sh", "-c", SETUP], volumes=["/vol1"], network_disabled=True)
    client.start(ctr)
    assert client.wait(ctr)["StatusCode"] == 0
    return ctr["Id"]


def _observe(client: docker_sdk.APIClient, image: str) -> dict[str, object]:
    cid = _prepared(client, image)
    seen: dict[str, object] = {}
    for path in ("/d", "/d/", "/d/.", "/lnk", "/vol1/f"):
        chunks, stat = client.get_archive(cid, path)
        stat.pop("mtime")
        seen[path] = (stat, _names(chunks))
    for path in ("/nope", "/d/nope"):
        with pytest.raises(docker_sdk.errors.NotFound) as err:
            client.get_archive(cid, path)
        seen[path] = err.value.explanation.replace(cid, "<id>")
    with pytest.raises(docker_sdk.errors.APIError) as err:
        client.put_archive(cid, "/vol1/f", _tar({"x": b"1"}))
    seen["put onto a file"] = (err.value.status_code, err.value.explanation)
    client.remove_container(cid, v=True)
    return seen


def test_it_answers_archive_requests_as_docker_does(api: docker_sdk.APIClient, real_docker: RealDocker) -> None:
    assert _observe(api, real_docker.image) == _observe(real_docker.api, real_docker.image)


def test_it_copies_into_a_volume_of_a_container_not_yet_started(api: docker_sdk.APIClient) -> None:
    ctr = api.create_container("busybox", ["sh", "-c", "cat /vol1/sub/data.txt; ls -p /vol1"], volumes=["/vol1"])
    assert api.put_archive(ctr, "/vol1", _tar({"sub/data.txt": b"Deaf To All But The Song\n", "a.py": b""}))
    api.start(ctr)
    assert api.wait(ctr)["StatusCode"] == 0
    assert api.logs(ctr) == b"Deaf To All But The Song\na.py\nsub/\n"
    chunks, stat = api.get_archive(ctr, "/vol1/sub/data.txt")
    assert stat["name"] == "data.txt" and stat["size"] == 25 and stat["linkTarget"] == ""
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        assert tar.extractfile("data.txt").read() == b"Deaf To All But The Song\n"  # type: ignore[union-attr]


def test_it_reads_and_writes_a_running_container(api: docker_sdk.APIClient) -> None:
    ctr = api.create_container("busybox", ["sleep", "30"])
    api.start(ctr)
    assert api.put_archive(ctr, "/tmp", _tar({"hello": b"world"}))
    exe = api.exec_create(ctr, ["cat", "/tmp/hello"])
    assert api.exec_start(exe) == b"world"
    chunks, stat = api.get_archive(ctr, "/etc/hosts")
    assert stat["name"] == "hosts" and stat["size"] > 0 and stat["mode"] == 0o644
    assert _names(chunks) == ["hosts"]


def test_it_refuses_to_write_onto_a_read_only_rootfs(api: docker_sdk.APIClient) -> None:
    ctr = api.create_container("busybox", "true", host_config=api.create_host_config(read_only=True))
    with pytest.raises(docker_sdk.errors.APIError, match="container rootfs is marked read-only"):
        api.put_archive(ctr, "/tmp", _tar({"x": b""}))


def test_export_is_the_root_filesystem_without_volumes(api: docker_sdk.APIClient) -> None:
    ctr = api.create_container("busybox", ["sh", "-c", "echo 1 > /made; echo 2 > /vol1/in-volume"], volumes=["/vol1"])
    api.start(ctr)
    api.wait(ctr)
    names = _names(api.export(ctr))
    assert "made" in names and "bin" in names and "bin/sh" in names and ".dockerenv" in names
    assert "vol1" in names and "vol1/in-volume" not in names
    assert not any(n.startswith(("/", "./")) for n in names)


def test_commit_makes_a_child_image_with_the_changes(api: docker_sdk.APIClient) -> None:
    ctr = api.create_container("busybox", ["touch", "/test"])
    api.start(ctr)
    api.wait(ctr)
    img = api.commit(ctr, repository="committed", tag="t1", message="a note", author="me",
                     changes=["EXPOSE 8000", 'CMD ["bash"]', "ENV A=1"])
    try:
        info = api.inspect_image(img["Id"])
        base = api.inspect_image("busybox")
        assert info["Parent"] == base["Id"] and info["RepoTags"] == ["committed:t1"]
        assert info["Config"]["Cmd"] == ["bash"] and "8000/tcp" in info["Config"]["ExposedPorts"]
        assert "A=1" in info["Config"]["Env"] and info["Container"] == ctr["Id"]
        assert info["Comment"] == "a note" and info["Author"] == "me"
        assert len(info["RootFS"]["Layers"]) == len(base["RootFS"]["Layers"]) + 1
        history = api.history(img["Id"])
        assert history[0]["CreatedBy"] == "touch /test" and history[0]["Comment"] == "a note"
        out = api.create_container(img["Id"], ["ls", "/test"])
        api.start(out)
        assert api.wait(out)["StatusCode"] == 0
    finally:
        api.remove_image("committed:t1", force=True)


def test_commit_of_a_running_container_leaves_it_running(api: docker_sdk.APIClient) -> None:
    ctr = api.create_container("busybox", ["sh", "-c", "echo data > /f; sleep 30"])
    api.start(ctr)
    img = api.commit(ctr)
    try:
        assert api.inspect_container(ctr)["State"]["Status"] == "running"
        assert api.inspect_image(img["Id"])["RepoTags"] == []
    finally:
        api.remove_image(img["Id"], force=True)


def test_commit_refuses_instructions_docker_refuses(api: docker_sdk.APIClient) -> None:
    ctr = api.create_container("busybox", "true")
    with pytest.raises(docker_sdk.errors.APIError, match=re.escape("run is not a valid change command")):
        api.commit(ctr, changes=["RUN echo"])


def test_docker_cp_both_ways_never_leaves_the_container(docker, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The CLI's `docker cp`: in and out, through links that point out of the container, and archives with `..`."""
    docker("run", "-d", "--name", "cp-target", "busybox", "sh", "-c",
           "ln -s ../../../../etc /esc && ln -s /etc /abs && echo inside > /etc/berth-cp && sleep 60", check=True)
    (tmp_path / "in.txt").write_text("from the host\n")
    docker("cp", str(tmp_path / "in.txt"), "cp-target:/tmp/", check=True)
    assert docker("exec", "cp-target", "cat", "/tmp/in.txt", check=True).out == "from the host"
    for link in ("esc", "abs"):  # both resolve to the container's /etc, never the host's
        docker("cp", f"cp-target:/{link}/berth-cp", str(tmp_path / f"{link}.out"), check=True)
        assert (tmp_path / f"{link}.out").read_text() == "inside\n"
        docker("cp", str(tmp_path / "in.txt"), f"cp-target:/{link}/", check=True)
        assert not os.path.exists("/etc/in.txt")
    assert docker("exec", "cp-target", "cat", "/etc/in.txt", check=True).out == "from the host"
    docker("cp", "cp-target:/tmp", str(tmp_path / "tmpdir"), check=True)
    assert (tmp_path / "tmpdir" / "in.txt").read_text() == "from the host\n"

    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w") as tar:
        info = tarfile.TarInfo("../../../../tmp/berth-cp-escape")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    refused = docker("cp", "-", "cp-target:/tmp", input=evil.getvalue())
    assert refused.returncode != 0
    assert not os.path.exists("/tmp/berth-cp-escape")
    assert docker("exec", "cp-target", "ls", "/tmp", check=True).out == "in.txt"
    missing = docker("cp", "cp-target:/nope", str(tmp_path / "x"))
    assert missing.returncode != 0 and "Could not find the file /nope in container cp-target" in missing.stderr
