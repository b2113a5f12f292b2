"""Resource limits are enforced by the kernel, not just recorded."""

from __future__ import annotations


def test_memory_limit_oom_kills(engine, docker) -> None:  # type: ignore[no-untyped-def]
    r = docker("run", "--name", "hog", "--memory=16m", "busybox", "sh", "-c", "x=a; while true; do x=$x$x; done")
    assert r.returncode == 137
    state = engine.inspect("hog")["State"]
    assert state["OOMKilled"] is True and state["ExitCode"] == 137


def test_pids_limit_stops_a_fork_loop(docker) -> None:  # type: ignore[no-untyped-def]
    r = docker("run", "--rm", "--pids-limit=20", "busybox", "sh", "-c",
               "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max")
    assert r.out == "20"
    r = docker("run", "--rm", "--pids-limit=10", "busybox", "sh", "-c", "for i in $(seq 30); do sleep 30 & done")
    assert "can't fork" in r.stderr


def test_cpus_visible_in_the_cgroup(docker) -> None:  # type: ignore[no-untyped-def]
    out = docker("run", "--rm", "--cpus=0.5", "busybox", "sh", "-c",
                 "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us 2>/dev/null || cat /sys/fs/cgroup/cpu.max").out
    assert out.split() == ["50000", "100000"]


def test_cpuset_and_shares(docker) -> None:  # type: ignore[no-untyped-def]
    out = docker("run", "--rm", "--cpuset-cpus=0", "--cpu-shares=512", "busybox", "sh", "-c",
                 "cat /sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/cpu/cpu.shares").out
    assert out.split() == ["0", "512"]


def test_unsupported_blkio_weight_is_a_warning(docker) -> None:  # type: ignore[no-untyped-def]
    r = docker("run", "--rm", "--blkio-weight=100", "busybox", "true")
    assert r.returncode == 0
    assert "WARNING: Your kernel does not support Block I/O weight" in r.stderr


def test_ulimits_readonly_rootfs_tmpfs_shm_and_init(docker) -> None:  # type: ignore[no-untyped-def]
    assert docker("run", "--rm", "--ulimit", "nofile=256:512", "busybox", "sh", "-c", "ulimit -n").out == "256"
    r = docker("run", "--rm", "--read-only", "--tmpfs", "/scratch:size=1m", "busybox", "sh", "-c",
               "touch /x 2>&1; touch /scratch/ok && echo tmpfs-ok")
    assert "Read-only file system" in r.stdout and "tmpfs-ok" in r.stdout
    shm = docker("run", "--rm", "--shm-size=8m", "busybox", "df", "-k", "/dev/shm").out.splitlines()[-1].split()
    assert shm[1] == "8192"
    assert docker("run", "--rm", "--init", "busybox", "ps", "-o", "comm").out.splitlines()[1] in ("docker-init", "tini-static", "tini")
    assert docker("run", "--rm", "--cap-add", "SYS_ADMIN", "busybox", "sh", "-c",
                  "mkdir -p /m && mount -t tmpfs none /m && echo ok").out == "ok"
    assert docker("run", "--rm", "--add-host", "db:10.9.8.7", "--hostname", "box", "busybox", "sh", "-c",
                  "grep db /etc/hosts; hostname").out.split() == ["10.9.8.7", "db", "box"]
    assert docker("run", "--rm", "-u", "33:33", "busybox", "id").out == "uid=33(www-data) gid=33(www-data) groups=33(www-data)"
    assert docker("run", "--rm", "busybox", "id").out == "uid=0(root) gid=0(root) groups=0(root),10(wheel)"
    assert docker("run", "--rm", "--group-add", "audio", "-u", "4242", "busybox", "id").out == "uid=4242 gid=0(root) groups=0(root),29(audio)"
