"""Swarm-mode and plugin routes: Berth has neither, and answers exactly as a Docker engine outside a swarm does."""

from __future__ import annotations

import docker as docker_sdk
import pytest

from tests.compat.conftest import RealDocker

# Read-only or refused requests: safe to send to the real engine (none of them joins or makes a swarm).
PROBES = [
    ("get", "/swarm"), ("post", "/swarm/leave?force=1"), ("get", "/services"), ("get", "/services/x"),
    ("post", "/services/create"), ("get", "/nodes"), ("get", "/tasks"), ("get", "/secrets"),
    ("post", "/secrets/create"), ("get", "/configs"), ("get", "/swarm/unlockkey"), ("post", "/swarm/update?version=1"),
    ("get", "/plugins"), ("get", "/plugins/vieux/sshfs:latest/json"), ("delete", "/plugins/x"),
    ("post", "/plugins/x/enable?timeout=0"), ("post", "/build/prune"),
]


def _answers(client: docker_sdk.APIClient) -> list[tuple[int, object]]:
    out = []
    for method, path in PROBES:
        res = getattr(client, "_" + method)(client._url(path), **({"json": {}} if method == "post" else {}))
        out.append((res.status_code, res.json()))
    return out


def test_it_answers_as_docker_outside_a_swarm(api: docker_sdk.APIClient, real_docker: RealDocker) -> None:
    assert _answers(api) == _answers(real_docker.api)


def test_swarm_init_fails_cleanly(api: docker_sdk.APIClient) -> None:
    with pytest.raises(docker_sdk.errors.APIError) as err:
        api.init_swarm("127.0.0.1")
    assert err.value.status_code == 503 and "swarm mode" in err.value.explanation
    assert api.leave_swarm(force=True) is True  # docker-py treats "not part of a swarm" as done
    assert api.info()["Swarm"]["LocalNodeState"] == "inactive"
