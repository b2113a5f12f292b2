"""Inspect JSON of what docker-py creates, compared key by key with the real Docker engine's."""

from __future__ import annotations

from typing import Any

import docker as docker_sdk

from tests.compat.conftest import RealDocker

# Values that depend on the engine's host or configuration, not on the API's shape.
HOST_SPECIFIC = {"CgroupnsMode", "NetworkMode", "LogConfig", "Runtime", "ShmSize"}


# Berth also masks what newer Docker releases mask (CVE-2020-8694: RAPL power readings);
# Docker 20.10, the reference here, predates that.
NEWER_MASKS = {"/sys/devices/virtual/powercap"}


def _host_config(client: docker_sdk.APIClient, image: str, **host: Any) -> dict[str, Any]:
    try:
        ctr = client.create_container(image, "true", host_config=client.create_host_config(**host))
    except docker_sdk.errors.APIError as err:  # refusals must match too
        return {"status": err.status_code, "message": err.explanation}
    try:
        hc = client.inspect_container(ctr)["HostConfig"]
    finally:
        client.remove_container(ctr)
    if hc.get("MaskedPaths"):
        hc["MaskedPaths"] = [p for p in hc["MaskedPaths"] if p not in NEWER_MASKS]
    return {k: v for k, v in hc.items() if k not in HOST_SPECIFIC}


def test_host_config_matches_docker(api: docker_sdk.APIClient, real_docker: RealDocker) -> None:
    for host in ({}, {"privileged": True}, {"security_opt": ["systempaths=unconfined"]},
                 {"port_bindings": {80: 8080}, "tmpfs": ["/run"], "init": True, "mem_limit": "64m"}):
        assert _host_config(api, real_docker.image, **host) == _host_config(real_docker.api, real_docker.image, **host)


def _ipam(client: docker_sdk.APIClient, name: str, **ipam: Any) -> dict[str, Any]:
    net = client.create_network(name, ipam=docker_sdk.types.IPAMConfig(**ipam))
    try:
        return client.inspect_network(net["Id"])["IPAM"]
    finally:
        client.remove_network(net["Id"])


def test_network_ipam_is_echoed_and_names_may_have_spaces(api: docker_sdk.APIClient, real_docker: RealDocker) -> None:
    pool = docker_sdk.types.IPAMPool(subnet="172.28.0.0/16", iprange="172.28.5.0/24", gateway="172.28.5.254")
    for name, ipam in (("berth probe 1", {"pool_configs": [pool]}),
                       ("berth-probe-2", {"pool_configs": [pool], "options": {"a": "b"}})):
        assert _ipam(api, name, **ipam) == _ipam(real_docker.api, name, **ipam)
