"""The Docker SDK for Python (docker-py) against the engine: its own calls and encodings."""

from __future__ import annotations

import docker as docker_sdk
import pytest


@pytest.fixture
def client(engine):  # type: ignore[no-untyped-def]
    c = docker_sdk.DockerClient(base_url=engine.host, version="auto")
    yield c
    for ct in c.containers.list(all=True, filters={"label": "sdk-test=1"}):
        ct.remove(force=True)
    c.close()


def test_sdk_run_list_logs_exec(client) -> None:  # type: ignore[no-untyped-def]
    assert client.ping()
    out = client.containers.run("busybox", ["echo", "from-sdk"], remove=True, labels={"sdk-test": "1"})
    assert out == b"from-sdk\n"
    ct = client.containers.run("busybox", "sh -c 'echo ready; sleep 1000'", detach=True, name="sdk1",
                               environment={"A": "1"}, labels={"sdk-test": "1"})
    listed = client.containers.list(filters={"label": "sdk-test=1"})
    assert [c.name for c in listed] == ["sdk1"]
    assert ct.logs(stdout=True, stderr=True).strip() in (b"ready", b"")
    code, (stdout, stderr) = ct.exec_run(["sh", "-c", "echo $A; echo e >&2; exit 2"], demux=True)
    assert code == 2 and stdout == b"1\n" and stderr == b"e\n"
    ct.reload()
    assert ct.status == "running"
    ct.stop(timeout=1)
    assert ct.wait()["StatusCode"] == 137
    ct.remove()


def test_sdk_images(client) -> None:  # type: ignore[no-untyped-def]
    img = client.images.get("busybox")
    assert "busybox:latest" in img.tags
    img.tag("sdkimg", "v1")
    assert client.images.get("sdkimg:v1").id == img.id
    client.images.remove("sdkimg:v1")
    with pytest.raises(docker_sdk.errors.ImageNotFound):
        client.images.get("sdkimg:v1")
    with pytest.raises(docker_sdk.errors.NotFound):
        client.containers.get("no-such-container")
