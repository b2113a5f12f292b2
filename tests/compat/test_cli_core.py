"""The engine core through the real docker CLI: what the course and the issue list must do."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.engine import DOCKER, EngineProcess


def test_version_and_info(docker) -> None:  # type: ignore[no-untyped-def]
    v = docker("version", "--format", "{{json .}}", check=True)
    doc = json.loads(v.stdout)
    assert doc["Server"]["ApiVersion"] == "1.41"
    assert doc["Server"]["Os"] == "linux"
    info = docker("info", "--format", "{{json .}}", check=True)
    doc = json.loads(info.stdout)
    assert doc["Driver"] == "overlay2"
    assert doc["NCPU"] == os.cpu_count()
    assert doc["MemTotal"] > 0
    assert doc["Images"] >= 1


def test_debian_cli_works_too(engine: EngineProcess) -> None:
    if not os.path.exists("/usr/bin/docker"):
        pytest.skip("Debian's docker CLI is not installed")
    r = engine.docker("run", "--rm", "busybox", "echo", "hi-from-cli20", docker="/usr/bin/docker")
    assert r.returncode == 0, r.stderr
    assert r.out == "hi-from-cli20"


def test_run_rm_prints_and_removes(docker) -> None:  # type: ignore[no-untyped-def]
    r = docker("run", "--rm", "busybox", "echo", "hi")
    assert (r.returncode, r.out) == (0, "hi")
    assert docker("ps", "-aq").out == ""


def test_run_exit_code_and_stderr(docker) -> None:  # type: ignore[no-untyped-def]
    r = docker("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert r.returncode == 3
    assert r.stdout == "out\n" and r.stderr == "err\n"


def test_run_with_stdin(docker) -> None:  # type: ignore[no-untyped-def]
    r = docker("run", "-i", "--rm", "busybox", "sh", "-c", "cat; echo done", input="line1\nline2\n")
    assert r.stdout == "line1\nline2\ndone\n"


def test_detached_app_lifecycle(engine: EngineProcess, docker) -> None:  # type: ignore[no-untyped-def]
    r = docker("run", "-d", "--name", "app", "-e", "APP_PORT=3000", "--memory=16m", "--cpu-shares=100",
               "--pids-limit=50", "busybox", "sh", "-c", "trap 'echo got-term; exit 7' TERM; echo $APP_PORT; while true; do sleep 0.1; done")
    assert r.returncode == 0, r.stderr
    cid = r.out
    assert len(cid) == 64
    ps = docker("ps", "--format", "{{.ID}} {{.Names}} {{.Status}}", check=True).out
    assert f"{cid[:12]} app Up" in ps
    time.sleep(0.3)
    assert docker("logs", "app", check=True).stdout == "3000\n"
    cg = docker("exec", "app", "cat", "/proc/self/cgroup", check=True).out
    assert cid in cg
    stats = docker("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}} {{.PIDs}}", "app", check=True).out
    assert stats.startswith("app ") and "/ 16MiB" in stats
    top = docker("top", "app", check=True).out
    assert ("PID" in top.splitlines()[0] and "sleep" in top) or "sh -c" in top
    docker("pause", "app", check=True)
    assert engine.inspect("app")["State"]["Status"] == "paused"
    docker("unpause", "app", check=True)
    t0 = time.monotonic()
    docker("stop", "app", check=True)
    assert time.monotonic() - t0 < 5, "SIGTERM should have stopped it at once"
    state = engine.inspect("app")["State"]
    assert (state["Status"], state["ExitCode"]) == ("exited", 7)
    assert "got-term" in docker("logs", "app").stdout
    docker("start", "app", check=True)
    inspect = engine.inspect("app")
    assert inspect["State"]["Running"]
    hc = inspect["HostConfig"]
    assert (hc["Memory"], hc["MemorySwap"], hc["CpuShares"], hc["PidsLimit"]) == (16 * 2**20, 32 * 2**20, 100, 50)
    assert "APP_PORT=3000" in inspect["Config"]["Env"]
    docker("rm", "-f", "app", check=True)
    assert docker("ps", "-aq").out == ""


def test_exec_exit_codes_env_and_workdir(docker) -> None:  # type: ignore[no-untyped-def]
    docker("run", "-d", "--name", "ex", "busybox", "sleep", "1000", check=True)
    assert docker("exec", "ex", "sh", "-c", "exit 4").returncode == 4
    r = docker("exec", "-e", "FOO=bar", "-w", "/tmp", "-u", "nobody", "ex", "sh", "-c", "echo $FOO $(pwd) $(id -u)")
    assert r.out == "bar /tmp 65534"
    missing = docker("exec", "ex", "no-such-command")
    assert missing.returncode == 127
    assert "executable file not found" in missing.stdout + missing.stderr
    assert docker("exec", "-i", "ex", "cat", input="piped\n").stdout == "piped\n"


def test_run_it_through_a_pty(docker, engine: EngineProcess) -> None:  # type: ignore[no-untyped-def]
    # `script` gives the CLI a terminal, so this is the real `docker run -it` path (raw TTY stream, resize).
    proc = subprocess.run(
        ["script", "-qec", f"{DOCKER} run -it --rm busybox sh -c 'tty; echo in-a-tty; exit 5'", "/dev/null"],
        env=engine.env, capture_output=True, text=True, timeout=60,
    )
    assert "/dev/pts/0" in proc.stdout
    assert "in-a-tty" in proc.stdout
    assert proc.returncode == 5


def test_logs_options(docker) -> None:  # type: ignore[no-untyped-def]
    docker("run", "--name", "lg", "busybox", "sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done; echo oops >&2", check=True)
    assert docker("logs", "--tail", "2", "lg").stdout == "line5\n"
    assert docker("logs", "--tail", "2", "lg").stderr == "oops\n"
    stamped = docker("logs", "-t", "lg").stdout.splitlines()
    assert len(stamped) == 5 and stamped[0].endswith(" line1") and stamped[0][4] == "-" and "Z " in stamped[0]
    assert docker("logs", "--since", "1h", "lg").stdout.count("line") == 5
    assert docker("logs", "--until", "1h", "lg").stdout == ""


def test_logs_follow_streams_until_exit(docker) -> None:  # type: ignore[no-untyped-def]
    docker("run", "-d", "--name", "fl", "busybox", "sh", "-c", "echo a; sleep 1; echo b", check=True)
    t0 = time.monotonic()
    r = docker("logs", "-f", "fl", timeout=20)
    assert r.stdout == "a\nb\n"
    assert time.monotonic() - t0 < 10
    # a quiet container's exit ends the stream at once, not at the next poll
    docker("run", "-d", "--name", "quiet", "busybox", "sleep", "0.3", check=True)
    t0 = time.monotonic()
    docker("logs", "-f", "quiet", check=True, timeout=20)
    assert time.monotonic() - t0 < 0.8


def test_rename_wait_kill_restart(engine: EngineProcess, docker) -> None:  # type: ignore[no-untyped-def]
    docker("run", "-d", "--name", "w1", "busybox", "sh", "-c", "sleep 0.5; exit 9", check=True)
    assert docker("wait", "w1").out == "9"
    docker("rename", "w1", "w2", check=True)
    assert engine.inspect("w2")["Name"] == "/w2"
    docker("restart", "-t", "1", "w2", check=True)
    assert engine.inspect("w2")["State"]["Running"]
    docker("kill", "-s", "KILL", "w2", check=True)
    assert engine.inspect("w2")["State"]["ExitCode"] == 137


def test_ps_filters_and_formats(docker) -> None:  # type: ignore[no-untyped-def]
    docker("run", "-d", "--name", "web1", "--label", "tier=web", "busybox", "sleep", "1000", check=True)
    docker("create", "--name", "idle1", "--label", "tier=db", "busybox", "true", check=True)
    assert docker("ps", "--format", "{{.Names}}").out.split() == ["web1"]
    assert sorted(docker("ps", "-a", "--format", "{{.Names}}").out.split()) == ["idle1", "web1"]
    assert docker("ps", "-a", "--filter", "label=tier=db", "--format", "{{.Names}}").out == "idle1"
    assert docker("ps", "-a", "--filter", "status=created", "--format", "{{.Names}}").out == "idle1"
    assert docker("ps", "-a", "--filter", "name=web", "--format", "{{.Names}}").out == "web1"
    assert docker("ps", "-a", "--filter", "ancestor=busybox", "-q").out.count("\n") == 1
    sized = docker("ps", "-a", "--size", "--format", "{{.Size}}").out
    assert "virtual" in sized


def test_import_with_changes_history_and_tag(tmp_path: Path, docker) -> None:  # type: ignore[no-untyped-def]
    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    busybox = "/bin/busybox" if os.path.exists("/bin/busybox") else "/usr/bin/busybox"
    subprocess.run(["cp", busybox, str(rootfs / "bin/busybox")], check=True)
    (rootfs / "bin/sh").symlink_to("busybox")
    (rootfs / "hello.txt").write_text("imported\n")
    archive = tmp_path / "rootfs.tar"
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(archive), "."], check=True)
    r = docker("import", "--change", "CMD [\"/bin/sh\", \"-c\", \"cat /hello.txt\"]", "--change", "ENV MODE=test",
               "-m", "from a tarball", str(archive), "imported:v1")
    assert r.returncode == 0, r.stderr
    assert r.out.startswith("sha256:")
    assert docker("run", "--rm", "imported:v1").stdout == "imported\n"
    assert "MODE=test" in docker("image", "inspect", "-f", "{{json .Config.Env}}", "imported:v1").out
    hist = docker("history", "--no-trunc", "--format", "{{.Comment}}", "imported:v1").out
    assert hist == "from a tarball"
    docker("tag", "imported:v1", "imported:v2", check=True)
    tags = docker("image", "ls", "imported", "--format", "{{.Tag}}").out.split()
    assert sorted(tags) == ["v1", "v2"]
    assert docker("rmi", "imported:v2").out == "Untagged: imported:v2"
    removed = docker("rmi", "imported:v1").out.splitlines()
    assert removed[0] == "Untagged: imported:v1" and removed[1].startswith("Deleted: sha256:")


def test_rmi_refuses_image_in_use(docker) -> None:  # type: ignore[no-untyped-def]
    docker("tag", "busybox", "inuse:1", check=True)
    docker("create", "--name", "user1", "inuse:1", "true", check=True)
    docker("rmi", "busybox", check=False)  # keep one more tag around: rmi busybox must not delete the image
    r = docker("rmi", "inuse:1")
    assert r.returncode != 0 and "must force" in r.stderr
    docker("rm", "user1", check=True)
    docker("tag", "inuse:1", "busybox:latest", check=True)
    docker("rmi", "inuse:1", check=True)


def test_save_rmi_load_round_trip(tmp_path: Path, docker) -> None:  # type: ignore[no-untyped-def]
    docker("tag", "busybox", "roundtrip:1", check=True)
    before = docker("image", "inspect", "-f", "{{.Id}}", "roundtrip:1", check=True).out
    archive = tmp_path / "x.tar"
    docker("save", "roundtrip:1", "-o", str(archive), check=True)
    docker("rmi", "roundtrip:1", check=True)
    loaded = docker("load", "-i", str(archive), check=True).out
    assert loaded == "Loaded image: roundtrip:1"
    assert docker("image", "inspect", "-f", "{{.Id}}", "roundtrip:1", check=True).out == before
    assert docker("run", "--rm", "roundtrip:1", "echo", "ok").out == "ok"
    docker("rmi", "roundtrip:1", check=True)


def test_image_ls_filters_and_prune(docker) -> None:  # type: ignore[no-untyped-def]
    docker("tag", "busybox", "prunable:1", check=True)
    listed = docker("image", "ls", "--filter", "reference=prunable*", "--format", "{{.Repository}}:{{.Tag}}").out
    assert listed == "prunable:1"
    prunable = docker("image", "inspect", "-f", "{{.Id}}", "prunable:1", check=True).out
    assert prunable[7:19] not in docker("image", "ls", "--filter", "dangling=true", "-q").out
    docker("rmi", "prunable:1", check=True)
    r = docker("image", "prune", "-f", check=True)
    assert "Total reclaimed space" in r.out
    assert docker("image", "ls", "--filter", "dangling=true", "-q").out == ""


def test_isolation_processes_and_mounts(docker) -> None:  # type: ignore[no-untyped-def]
    docker("run", "-d", "--name", "neighbour", "busybox", "sleep", "1000", check=True)
    ps = docker("run", "--rm", "busybox", "ps", "-o", "pid,comm").out.splitlines()
    assert [line.split()[1] for line in ps[1:]] == ["ps"], ps
    mounts = docker("run", "--rm", "busybox", "cat", "/proc/self/mounts").out.splitlines()
    points = {line.split()[1] for line in mounts}
    assert points <= {"/", "/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm",
                      "/etc/resolv.conf", "/etc/hostname", "/etc/hosts"} | {p for p in points if p.startswith(("/proc/", "/sys/"))}
    assert not any(p.startswith(("/work", "/tmp", "/var/lib")) for p in points)
    hostname = docker("run", "--rm", "busybox", "hostname").out
    assert hostname != os.uname().nodename and len(hostname) == 12


def test_default_security_and_privileged(docker) -> None:  # type: ignore[no-untyped-def]
    script = "mkdir -p /mnt; mount -t tmpfs none /mnt && echo mount-ok || echo mount-failed"
    assert docker("run", "--rm", "busybox", "sh", "-c", script).out == "mount-failed"
    assert docker("run", "--rm", "--privileged", "busybox", "sh", "-c", script).out == "mount-ok"
    # reboot(2) is blocked by seccomp and the missing CAP_SYS_BOOT; with --privileged it only ends
    # the container's own pid namespace.
    r = docker("run", "--rm", "busybox", "sh", "-c", "reboot -f; echo still-here")
    assert "still-here" in r.stdout
    assert "Operation not permitted" in r.stderr
    r = docker("run", "--rm", "--privileged", "busybox", "sh", "-c", "reboot -f; sleep 5; echo still-here")
    assert "still-here" not in r.stdout
    caps = docker("run", "--rm", "busybox", "grep", "CapEff", "/proc/self/status").out
    assert caps.split()[-1] == "00000000a80425fb"
    seccomp = docker("run", "--rm", "busybox", "grep", "Seccomp:", "/proc/self/status").out
    assert seccomp.split()[-1] == "2"
    assert docker("run", "--rm", "--privileged", "busybox", "grep", "Seccomp:", "/proc/self/status").out.split()[-1] == "0"
    nnp = docker("run", "--rm", "--security-opt", "no-new-privileges", "busybox", "grep", "NoNewPrivs", "/proc/self/status").out
    assert nnp.split()[-1] == "1"
    masked = "grep -c ' /proc/keys ' /proc/self/mountinfo || true"
    assert docker("run", "--rm", "busybox", "sh", "-c", masked).out == "1"
    unconfined = docker("run", "--rm", "--security-opt", "systempaths=unconfined", "busybox", "sh", "-c", masked)
    assert unconfined.out == "0", unconfined.stderr


def test_large_stdin_arrives_whole(docker) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    data = os.urandom(3 * 1024 * 1024 + 17)  # far more than one 32 KiB attach message
    want = hashlib.md5(data).hexdigest()  # a checksum, not security
    docker("run", "-d", "--name", "stdin-big", "busybox", "sleep", "60", check=True)
    assert docker("exec", "-i", "stdin-big", "md5sum", input=data, check=True).out.split()[0] == want
    assert docker("run", "--rm", "-i", "busybox", "md5sum", input=data, check=True).out.split()[0] == want


def test_rmi_by_id_of_a_running_image_keeps_its_tags(engine: EngineProcess, docker) -> None:  # type: ignore[no-untyped-def]
    # an image with a single tag: rmi by ID would remove the tag too, if it may delete the image
    docker("build", "-q", "-t", "keepme:1", "-", input="FROM busybox\nLABEL keep=me\n", check=True)
    iid = engine.inspect("keepme:1")["Id"]
    docker("run", "-d", "--name", "holder", "keepme:1", "sleep", "60", check=True)
    for args in (("rmi", iid), ("rmi", "-f", iid)):
        r = docker(*args)
        assert r.returncode != 0 and "running container" in r.stderr, r.stderr
        assert "keepme:1" in engine.inspect(iid)["RepoTags"]  # refused: nothing untagged
    docker("rm", "-f", "holder", check=True)
    docker("rmi", iid, check=True)
