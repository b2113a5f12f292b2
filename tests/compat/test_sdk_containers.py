"""docker-py's container calls whose details Berth once got wrong: exec framing and detach, update, links, MAC."""

from __future__ import annotations

import socket
import time

import docker as docker_sdk
import pytest
from docker.utils.socket import next_frame_header, read_exactly

from tests.compat.conftest import RealDocker
from tests.support.engine import EngineProcess


def _running(api: docker_sdk.APIClient, **kwargs) -> str:  # type: ignore[no-untyped-def]
    ctr = api.create_container("busybox", "cat", stdin_open=True, **kwargs)
    api.start(ctr)
    return ctr["Id"]


def test_exec_output_is_framed_unless_the_start_asks_for_a_tty(api: docker_sdk.APIClient) -> None:
    cid = _running(api)
    exe = api.exec_create(cid, ["printf", "yay"], tty=True)
    sock = api.exec_start(exe, socket=True)  # tty=False in the start request: Docker frames the output
    try:
        stream, size = next_frame_header(sock)
        assert (stream, size) == (1, 3) and read_exactly(sock, size) == b"yay"
    finally:
        sock.close()
    exe = api.exec_create(cid, ["sh", "-c", "echo out; sleep 0.2; echo err >&2"], tty=True)
    assert api.exec_start(exe, tty=True) == b"out\r\nerr\r\n"
    exe = api.exec_create(cid, ["sh", "-c", "echo out; sleep 0.2; echo err >&2"], tty=True)
    assert api.exec_start(exe, demux=True) == (b"out\r\nerr\r\n", None)


def _raw(sock) -> socket.socket:  # type: ignore[no-untyped-def]
    return sock._sock if hasattr(sock, "_sock") else sock


@pytest.mark.parametrize("keys,typed", [(None, b"\x10\x11"), ("ctrl-p", b"\x10")], ids=["default", "detachKeys"])
def test_exec_detach_keys_end_the_connection(api: docker_sdk.APIClient, keys: str | None, typed: bytes) -> None:
    cid = _running(api)
    if keys:
        api._general_configs["detachKeys"] = keys  # sent as `detachKeys`: Docker matches JSON names case-insensitively
    exe = api.exec_create(cid, "cat", stdin=True, tty=True)
    sock = _raw(api.exec_start(exe, tty=True, socket=True))
    try:
        sock.settimeout(10)
        sock.sendall(b"hi")
        assert sock.recv(16) == b"hi"
        sock.sendall(typed)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and sock.recv(64):
            pass
        assert api.exec_inspect(exe["Id"])["Running"] is True  # detached, not ended
    finally:
        sock.close()


def test_update_changes_limits_of_a_running_container(api: docker_sdk.APIClient) -> None:
    cid = _running(api, host_config=api.create_host_config(mem_limit=400 * 1024 * 1024,
                                                          restart_policy={"Name": "always"}))
    assert api.update_container(cid, mem_limit=300 * 1024 * 1024, cpu_shares=512,
                                restart_policy={"Name": "on-failure", "MaximumRetryCount": 42}) == {"Warnings": None}
    hc = api.inspect_container(cid)["HostConfig"]
    assert (hc["Memory"], hc["MemorySwap"], hc["CpuShares"]) == (300 * 1024 * 1024, 800 * 1024 * 1024, 512)
    assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 42}
    exe = api.exec_create(cid, ["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"])
    limit = api.exec_start(exe).strip()
    assert limit in (b"314572800", b"")  # cgroup v1 shows the live limit; v2 keeps it elsewhere


def _update_errors(client: docker_sdk.APIClient, image: str) -> list[tuple[int, str]]:
    ctr = client.create_container(image, "true", network_disabled=True)
    out = []
    for kwargs in ({"mem_limit": 300 * 1024 * 1024}, {"restart_policy": {"Name": "always", "MaximumRetryCount": 3}},
                   {"restart_policy": {"Name": "bogus"}}):
        with pytest.raises(docker_sdk.errors.APIError) as err:
            client.update_container(ctr, **kwargs)
        out.append((err.value.status_code, err.value.explanation.replace(ctr["Id"], "<id>")))
    client.remove_container(ctr)
    return out


def test_update_refuses_what_docker_refuses(api: docker_sdk.APIClient, real_docker: RealDocker) -> None:
    assert _update_errors(api, real_docker.image) == _update_errors(real_docker.api, real_docker.image)


def test_legacy_links_give_variables_and_hosts_entries(api: docker_sdk.APIClient) -> None:
    child = api.create_container("busybox", "cat", stdin_open=True, environment={"FOO": "1"}, ports=[80, 81, 82])
    api.start(child)
    child_name = api.inspect_container(child)["Name"][1:]
    parent = api.create_container("busybox", ["sh", "-c", "env; cat /etc/hosts"],
                                  host_config=api.create_host_config(links={child_name: "my-link"}))
    parent_name = api.inspect_container(parent)["Name"][1:]
    assert api.inspect_container(parent)["HostConfig"]["Links"] == [f"/{child_name}:/{parent_name}/my-link"]
    api.start(parent)
    assert api.wait(parent)["StatusCode"] == 0
    out = api.logs(parent).decode()
    ip = api.inspect_container(child)["NetworkSettings"]["IPAddress"]
    assert f"MY_LINK_NAME=/{parent_name}/my-link" in out and "MY_LINK_ENV_FOO=1" in out
    assert f"MY_LINK_PORT=tcp://{ip}:80" in out and f"MY_LINK_PORT_80_TCP_START=tcp://{ip}:80" in out
    assert f"MY_LINK_PORT_81_TCP_ADDR={ip}" in out and "MY_LINK_ENV_PATH" not in out
    assert f"{ip}\tmy-link {child['Id'][:12]} {child_name}" in out
    api.remove_container(f"{parent_name}/my-link", link=True)
    assert api.inspect_container(parent)["HostConfig"]["Links"] is None
    with pytest.raises(docker_sdk.errors.NotFound):
        api.remove_container(f"{parent_name}/my-link", link=True)


def test_links_need_an_existing_and_running_child(api: docker_sdk.APIClient) -> None:
    with pytest.raises(docker_sdk.errors.APIError, match="could not get container for nosuch"):
        api.create_container("busybox", "true", host_config=api.create_host_config(links={"nosuch": "x"}))
    child = api.create_container("busybox", "true")
    child_name = api.inspect_container(child)["Name"][1:]
    parent = api.create_container("busybox", "true", host_config=api.create_host_config(links={child_name: "x"}))
    with pytest.raises(docker_sdk.errors.APIError, match="Cannot link to a non running container"):
        api.start(parent)


def test_mac_address_of_the_first_network(api: docker_sdk.APIClient) -> None:
    cid = _running(api, mac_address="02:42:ac:11:00:0a")
    assert api.inspect_container(cid)["NetworkSettings"]["MacAddress"] == "02:42:ac:11:00:0a"
    net = api.create_network("berth-mac-net")["Id"]
    try:
        other = api.create_container("busybox", "true")
        api.connect_container_to_network(other, net, mac_address="02:42:ac:11:00:02")
        assert api.inspect_container(other)["NetworkSettings"]["Networks"]["berth-mac-net"]["MacAddress"] == \
            "02:42:ac:11:00:02"
        api.remove_container(other)
    finally:
        api.remove_network(net)


def test_exec_as_an_unknown_user_says_so(api: docker_sdk.APIClient, docker) -> None:  # type: ignore[no-untyped-def]
    cid = _running(api)
    exe = api.exec_create(cid, "whoami", user="postgres")
    assert api.exec_start(exe) == b"unable to find user postgres: no matching entries in passwd file\r\n"
    assert api.exec_inspect(exe)["ExitCode"] == 126
    r = docker("exec", "-u", "nobody-here", cid, "true")
    assert r.returncode == 126 and "unable to find user nobody-here" in r.stdout + r.stderr


def test_each_log_line_is_a_message_of_its_own(api: docker_sdk.APIClient, engine: EngineProcess) -> None:
    client = docker_sdk.DockerClient(base_url=engine.host, version="1.41")
    try:
        out = client.containers.run("busybox", 'sh -c "echo hello && echo world"', stream=True, remove=True)
        assert list(out) == [b"hello\n", b"world\n"]
    finally:
        client.close()


def test_log_driver_none_keeps_no_log(api: docker_sdk.APIClient, docker) -> None:  # type: ignore[no-untyped-def]
    r = docker("run", "--log-driver", "none", "--name", "no-log", "busybox", "echo", "shown while attached")
    assert r.returncode == 0 and r.out == "shown while attached"
    assert api.inspect_container("no-log")["HostConfig"]["LogConfig"] == {"Type": "none", "Config": {}}
    logs = docker("logs", "no-log")
    assert logs.returncode != 0 and "configured logging driver does not support reading" in logs.stderr


def test_attach_replays_the_logs_of_a_stopped_container(api: docker_sdk.APIClient) -> None:
    for _ in range(5):  # it once came out empty when the logs arrived with the 101 headers
        ctr = api.create_container("busybox", "echo hello")
        api.start(ctr)
        api.wait(ctr)
        assert api.attach(ctr, stream=False, logs=True) == b"hello\n"
