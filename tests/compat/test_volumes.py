"""Volumes and mounts through the real docker CLI: data that outlives its container."""

from __future__ import annotations

import io
import json
import os
import socket
import tarfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.engine import EngineProcess


def _tar_with_owned_files() -> bytes:
    """A one-layer rootfs: busybox plus /app/public owned by 1234:5678 with a 0640 file."""
    buf = io.BytesIO()
    busybox = "/bin/busybox" if os.path.exists("/bin/busybox") else "/usr/bin/busybox"
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(busybox, arcname="bin/busybox")
        for name in ("sh", "cat", "stat", "ls", "touch", "echo", "httpd", "mkdir", "sleep", "id"):
            info = tarfile.TarInfo(f"bin/{name}")
            info.type = tarfile.SYMTYPE
            info.linkname = "busybox"
            tar.addfile(info)
        d = tarfile.TarInfo("app/public")
        d.type, d.uid, d.gid, d.mode = tarfile.DIRTYPE, 1234, 5678, 0o750
        tar.addfile(d)
        data = b"<h1>from the image</h1>\n"
        f = tarfile.TarInfo("app/public/index.html")
        f.size, f.uid, f.gid, f.mode = len(data), 1234, 5678, 0o640
        tar.addfile(f, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture(scope="module")
def myapp(engine: EngineProcess) -> str:
    r = engine.docker("import", "--change", "VOLUME /app/public", "--change", 'CMD ["sh"]', "-", "myapp:v1",
                      input=_tar_with_owned_files())
    assert r.returncode == 0, r.stderr
    return "myapp:v1"


def test_volume_commands(docker) -> None:  # type: ignore[no-untyped-def]
    assert docker("volume", "create", "--label", "team=a", "v1", check=True).out == "v1"
    docker("volume", "create", "v2", check=True)
    info = json.loads(docker("volume", "inspect", "v1", check=True).stdout)[0]
    assert info["Name"] == "v1" and info["Driver"] == "local" and info["Scope"] == "local"
    assert info["Labels"] == {"team": "a"} and info["Mountpoint"].endswith("/volumes/v1/_data")
    assert info["CreatedAt"].endswith("Z")
    assert docker("volume", "ls", "--filter", "label=team=a", "-q").out == "v1"
    assert sorted(docker("volume", "ls", "--filter", "name=v", "-q").out.split()) == ["v1", "v2"]
    docker("create", "--name", "holder", "-v", "v1:/data", "busybox", "true", check=True)
    assert docker("volume", "ls", "--filter", "dangling=true", "-q").out == "v2"
    rm = docker("volume", "rm", "v1")
    assert rm.returncode != 0 and "volume is in use" in rm.stderr
    df = docker("system", "df", "--format", "{{.Type}} {{.TotalCount}}").out
    assert "Local Volumes 2" in df
    docker("rm", "holder", check=True)
    pruned = docker("volume", "prune", "-f", check=True).out
    assert "v1" in pruned and "v2" in pruned
    assert docker("volume", "ls", "-q").out == ""


def test_data_persists_across_containers_and_restarts(engine: EngineProcess, docker) -> None:  # type: ignore[no-untyped-def]
    docker("run", "--rm", "-v", "keep:/data", "busybox", "sh", "-c", "echo kept > /data/file", check=True)
    assert docker("run", "--rm", "-v", "keep:/data", "busybox", "cat", "/data/file").out == "kept"
    engine.kill9()
    engine.start()
    assert docker("run", "--rm", "-v", "keep:/data:ro", "busybox", "cat", "/data/file").out == "kept"
    ro = docker("run", "--rm", "-v", "keep:/data:ro", "busybox", "touch", "/data/other")
    assert ro.returncode != 0 and "Read-only file system" in ro.stderr
    docker("volume", "rm", "keep", check=True)


def test_copy_up_keeps_owners_and_modes(myapp: str, docker) -> None:  # type: ignore[no-untyped-def]
    out = docker("run", "--rm", "-v", "filled:/app/public", myapp, "sh", "-c",
                 "stat -c '%u:%g %a %n' /app/public /app/public/index.html; cat /app/public/index.html").out
    assert out.splitlines() == ["1234:5678 750 /app/public", "1234:5678 640 /app/public/index.html",
                                "<h1>from the image</h1>"]
    # only an empty volume is filled: a second container sees what the first one changed
    docker("run", "--rm", "-v", "filled:/app/public", myapp, "sh", "-c", "echo changed > /app/public/index.html", check=True)
    assert docker("run", "--rm", "-v", "filled:/app/public", myapp, "cat", "/app/public/index.html").out == "changed"
    nocopy = docker("run", "--rm", "--mount", "type=volume,source=empty1,target=/app/public,volume-nocopy",
                    myapp, "ls", "/app/public").out
    assert nocopy == ""
    docker("volume", "rm", "filled", "empty1", check=True)


def test_image_volume_gives_an_anonymous_volume(engine: EngineProcess, myapp: str, docker) -> None:  # type: ignore[no-untyped-def]
    docker("volume", "create", "named1", check=True)
    docker("create", "--name", "anon1", "-v", "named1:/named", myapp, "true", check=True)
    mounts = engine.inspect("anon1")["Mounts"]
    anon = next(m for m in mounts if m["Destination"] == "/app/public")
    assert anon["Type"] == "volume" and len(anon["Name"]) == 64
    assert anon["Name"] in docker("volume", "ls", "-q").out.split()
    docker("rm", "-v", "anon1", check=True)
    names = docker("volume", "ls", "-q").out.split()
    assert anon["Name"] not in names and "named1" in names
    docker("volume", "rm", "named1", check=True)


def test_bind_mounts_and_tmpfs(tmp_path: Path, docker) -> None:  # type: ignore[no-untyped-def]
    host = tmp_path / "share"
    host.mkdir()
    (host / "in.txt").write_text("from host\n")
    out = docker("run", "--rm", "-v", f"{host}:/share", "busybox", "sh", "-c", "cat /share/in.txt; echo back > /share/out.txt").out
    assert out == "from host"
    assert (host / "out.txt").read_text() == "back\n"
    ro = docker("run", "--rm", "--mount", f"type=bind,source={host},target=/share,readonly", "busybox", "touch", "/share/x")
    assert ro.returncode != 0 and "Read-only" in ro.stderr
    created = tmp_path / "made-by-run"
    docker("run", "--rm", "-v", f"{created}:/new", "busybox", "true", check=True)
    assert created.is_dir()
    missing = docker("run", "--rm", "--mount", f"type=bind,source={tmp_path}/absent,target=/x", "busybox", "true")
    assert missing.returncode != 0 and "bind source path does not exist" in missing.stderr
    # a bind source reached through a symlink is resolved on the host, and only what it names is mounted
    (tmp_path / "link").symlink_to(host)
    assert docker("run", "--rm", "-v", f"{tmp_path}/link:/share", "busybox", "cat", "/share/in.txt").out == "from host"
    tm = docker("run", "--rm", "--mount", "type=tmpfs,target=/scratch,tmpfs-size=1048576", "busybox", "df", "-k", "/scratch").out
    assert tm.splitlines()[-1].split()[1] == "1024"
    assert "tmpfs" in docker("run", "--rm", "--tmpfs", "/run:size=2m", "busybox", "grep", " /run ", "/proc/mounts").out


def test_tmpfs_backed_named_volume(docker) -> None:  # type: ignore[no-untyped-def]
    docker("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=64m", "ramvol", check=True)
    out = docker("run", "--rm", "-v", "ramvol:/r", "busybox", "df", "-k", "/r").out
    assert out.splitlines()[-1].split()[1] == str(64 * 1024)
    docker("volume", "rm", "ramvol", check=True)


def test_volumes_from(docker) -> None:  # type: ignore[no-untyped-def]
    docker("run", "-d", "--name", "vsrc", "-v", "vfvol:/shared", "busybox", "sh", "-c", "echo src > /shared/f; sleep 100", check=True)
    time.sleep(0.3)
    assert docker("run", "--rm", "--volumes-from", "vsrc", "busybox", "cat", "/shared/f").out == "src"
    ro = docker("run", "--rm", "--volumes-from", "vsrc:ro", "busybox", "touch", "/shared/g")
    assert ro.returncode != 0
    docker("rm", "-f", "vsrc", check=True)
    docker("volume", "rm", "vfvol", check=True)


def test_course_example_shared_volume(engine: EngineProcess, myapp: str, docker) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        base = s.getsockname()[1]
    if base > 60000:
        base -= 1000
    docker("volume", "create", "shared", check=True)
    try:
        for name in ("app0", "app1"):
            docker("run", "-d", "-p", f"{base}-{base + 100}:3000", "-v", "shared:/app/public", "--name", name, myapp,
                   "httpd", "-f", "-p", "3000", "-h", "/app/public", check=True)
        ports = [int(docker("port", n, "3000").out.rsplit(":", 1)[1]) for n in ("app0", "app1")]
        assert ports[0] != ports[1] and all(base <= p <= base + 100 for p in ports)
        docker("exec", "app0", "sh", "-c", "echo shared-page > /app/public/index.html", check=True)
        for port in ports:
            for _ in range(50):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                        assert resp.read() == b"shared-page\n"
                        break
                except OSError:
                    time.sleep(0.1)
            else:
                raise AssertionError(f"port {port} did not answer")
    finally:
        docker("rm", "-f", "app0", "app1")
        docker("volume", "rm", "shared")


@pytest.mark.parametrize("args,needle", [
    (["volume", "create", "bad/name"], "includes invalid characters"),
    (["volume", "create", ".."], "includes invalid characters"),
    (["volume", "create", "-d", "nfs-plugin", "x1"], "plugin \"nfs-plugin\" not found"),
    (["volume", "create", "-o", "bogus=1", "x2"], 'invalid option: "bogus"'),
    (["volume", "create", "-o", "type=tmpfs", "x3"], 'missing required option: "device"'),
    (["run", "--rm", "-v", "a/b:/x", "busybox", "true"], "includes invalid characters"),
    (["run", "--rm", "-v", "vol:relative", "busybox", "true"], "must be absolute"),
    (["run", "--rm", "-v", "vol:/x:wat", "busybox", "true"], "invalid mode"),
])
def test_bad_volume_input(docker, args: list[str], needle: str) -> None:  # type: ignore[no-untyped-def]
    before = docker("volume", "ls", "-q").out
    r = docker(*args)
    assert r.returncode != 0 and needle in r.stderr, r.stderr
    assert docker("volume", "ls", "-q").out == before
