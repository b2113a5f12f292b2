from __future__ import annotations

import pytest

from engine.containers import resources, spec
from engine.containers.resources import HostSupport
from engine.errors import InvalidArgument

HOST = HostSupport(version=1, blkio_weight=False, ncpu=2, cpus_online="0-1")


def test_default_caps_are_dockers() -> None:
    caps = spec.capabilities(None, None, False)
    assert "CAP_NET_RAW" in caps and "CAP_SYS_ADMIN" not in caps and len(caps) == 14


def test_cap_add_drop_all() -> None:
    assert spec.capabilities(["sys_admin"], ["NET_RAW"], False).count("CAP_SYS_ADMIN") == 1
    assert "CAP_NET_RAW" not in spec.capabilities(["sys_admin"], ["NET_RAW"], False)
    assert spec.capabilities(["CHOWN"], ["ALL"], False) == ["CAP_CHOWN"]
    assert "CAP_CHOWN" not in spec.capabilities(["ALL"], ["CHOWN"], False)
    with pytest.raises(InvalidArgument):
        spec.capabilities(["NOT_A_CAP"], None, False)


def test_bounding_caps_reads_the_mask() -> None:
    status = "Name:\tx\nCapBnd:\t000001fffeffffff\n"
    caps = spec.bounding_caps(status)
    assert "CAP_SYS_RESOURCE" not in caps and "CAP_SYS_ADMIN" in caps and "CAP_MAC_OVERRIDE" in caps


def build(**kw):  # type: ignore[no-untyped-def]
    base = dict(rootfs="/r", args=["sh"], env=["A=1"], cwd="/", uid=0, gid=0, additional_gids=(), hostname="h")
    base.update(kw)
    return spec.build_spec(spec.SpecInputs(**base))


def test_spec_masks_and_readonly_paths() -> None:
    s = build()
    assert "/proc/kcore" in s["linux"]["maskedPaths"]
    assert "/proc/sys" in s["linux"]["readonlyPaths"]
    sys_mount = next(m for m in s["mounts"] if m["destination"] == "/sys")
    assert "ro" in sys_mount["options"]


def test_privileged_spec_has_no_masks() -> None:
    s = build(privileged=True)
    assert "maskedPaths" not in s["linux"]
    assert "rw" in next(m for m in s["mounts"] if m["destination"] == "/sys")["options"]


def test_user_mounts_replace_defaults() -> None:
    s = build(mounts=({"destination": "/dev/shm", "type": "bind", "source": "/dev/shm", "options": ["rbind"]},))
    assert [m["type"] for m in s["mounts"] if m["destination"] == "/dev/shm"] == ["bind"]


def test_memory_swap_defaults_to_twice_memory() -> None:
    hc = {"Memory": 16 * 2**20}
    warnings = resources.normalize(hc, HOST)
    assert hc["MemorySwap"] == 32 * 2**20 and warnings == []


@pytest.mark.parametrize("hc,message", [
    ({"Memory": 1024}, "Minimum memory limit allowed is 6MB"),
    ({"Memory": 2**25, "MemorySwap": 2**24}, "Minimum memoryswap limit should be larger than memory limit"),
    ({"MemorySwap": 2**25}, "You should always set the Memory limit"),
    ({"NanoCpus": 3 * 10**9}, "Range of CPUs is from 0.01 to 2.00"),
    ({"NanoCpus": 10**9, "CpuQuota": 50000}, "Nano CPUs and CPU Quota"),
    ({"CpusetCpus": "7"}, "Requested CPUs are not available"),
    ({"CpusetCpus": "x"}, "Invalid value x for cpuset cpus"),
    ({"CpuPeriod": 10}, "CPU cfs period can not be less than 1ms"),
])
def test_resource_errors(hc: dict, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        resources.normalize(hc, HOST)


def test_unsupported_blkio_weight_is_a_warning() -> None:
    hc = {"BlkioWeight": 100}
    warnings = resources.normalize(hc, HOST)
    assert hc["BlkioWeight"] == 0
    assert warnings == ["Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."]


def test_oci_resources() -> None:
    hc = {"Memory": 2**24, "MemorySwap": 2**25, "NanoCpus": 5 * 10**8, "CpuShares": 100, "PidsLimit": 50}
    res = resources.oci_resources(hc, privileged=False)
    assert res["memory"] == {"limit": 2**24, "swap": 2**25}
    assert res["cpu"] == {"shares": 100, "period": 100000, "quota": 50000}
    assert res["pids"] == {"limit": 50}
    assert res["devices"] == [{"allow": False, "access": "rwm"}]
