"""Offline base images: busybox from the host's busybox-static; debian and node with mmdebstrap.

`python -m engine bootstrap busybox` builds a one-layer image (all applets hard
links to /bin/busybox, a minimal /etc) as a `docker save` archive and loads it
into the running engine through its API, so the engine's stores are only ever
written by the engine. The layer is deterministic: the same busybox binary
always gives the same image ID.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
from datetime import UTC, datetime
from typing import Any

from engine.images.config import encode, new_base_config

DEFAULT_SOCKET = "/run/berth/engine.sock"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
NODE_MAJOR_TAG = {"bookworm": "node:18", "trixie": "node:20"}

PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""
GROUP = """root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
staff:x:50:
users:x:100:
nogroup:x:65534:
"""


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 300) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.path)
        self.sock = sock


def _add(tar: tarfile.TarFile, name: str, kind: bytes, mtime: int, mode: int, data: bytes = b"", link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mtime = mtime
    info.mode = mode
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if kind == tarfile.REGTYPE:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        info.linkname = link
        tar.addfile(info)


def busybox_layer(binary: str) -> tuple[bytes, int]:
    """The layer tar for a busybox image, and the binary's mtime (used as the image's creation time)."""
    with open(binary, "rb") as f:
        data = f.read()
    mtime = int(os.stat(binary).st_mtime)
    applets = subprocess.run([binary, "--list"], capture_output=True, text=True, check=True).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for d, mode in (("bin", 0o755), ("dev", 0o755), ("etc", 0o755), ("home", 0o755), ("proc", 0o755),
                        ("root", 0o700), ("sys", 0o755), ("tmp", 0o1777), ("usr", 0o755), ("usr/sbin", 0o755),
                        ("usr/bin", 0o755), ("var", 0o755), ("var/spool", 0o755), ("var/spool/mail", 0o755),
                        ("var/www", 0o755)):
            _add(tar, d + "/", tarfile.DIRTYPE, mtime, mode)
        _add(tar, "bin/busybox", tarfile.REGTYPE, mtime, 0o755, data)
        for applet in sorted(set(applets)):
            if applet != "busybox" and "/" not in applet:
                _add(tar, f"bin/{applet}", tarfile.LNKTYPE, mtime, 0o755, link="bin/busybox")
        _add(tar, "etc/passwd", tarfile.REGTYPE, mtime, 0o644, PASSWD.encode())
        _add(tar, "etc/group", tarfile.REGTYPE, mtime, 0o644, GROUP.encode())
        _add(tar, "etc/shadow", tarfile.REGTYPE, mtime, 0o600,
             "".join(f"{line.split(':')[0]}:*:10933:0:99999:7:::\n" for line in PASSWD.splitlines()).encode())
        _add(tar, "etc/nsswitch.conf", tarfile.REGTYPE, mtime, 0o644, b"hosts: files dns\nnetworks: files\n")
    return buf.getvalue(), mtime


def save_archive(layer: bytes, config: bytes, tags: list[str]) -> bytes:
    """A minimal `docker save` archive holding one single-layer image."""
    layer_id = hashlib.sha256(layer).hexdigest()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": tags, "Layers": [f"{layer_id}/layer.tar"]}]).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in ((config_name, config), (f"{layer_id}/layer.tar", layer), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def image_config(diff_id: str, created: str, created_by: str, cmd: list[str], env: list[str] | None = None) -> bytes:
    history: list[dict[str, Any]] = [
        {"created": created, "created_by": created_by},
        {"created": created, "created_by": f"/bin/sh -c #(nop)  CMD {json.dumps(cmd)}", "empty_layer": True},
    ]
    return encode(new_base_config({"Env": [PATH_ENV, *(env or [])], "Cmd": cmd}, [diff_id], history, created=created))


def load_into_engine(socket_path: str, archive: bytes) -> list[str]:
    conn = _UnixHTTPConnection(socket_path)
    conn.request("POST", "/images/load?quiet=1", body=archive, headers={"Content-Type": "application/x-tar"})
    resp = conn.getresponse()
    body = resp.read().decode()
    if resp.status != 200:
        raise RuntimeError(f"engine refused the image: {body.strip()}")
    out = []
    for line in body.splitlines():
        if not line.strip():
            continue
        msg = json.loads(line)
        if "error" in msg:
            raise RuntimeError(msg["error"])
        if "stream" in msg:
            out.append(msg["stream"].strip())
    return out


def bootstrap_busybox(socket_path: str, tag: str) -> list[str]:
    binary = next((b for b in BUSYBOX_CANDIDATES if os.path.isfile(b)), None)
    if binary is None:
        raise RuntimeError("busybox not found: install Debian's busybox-static package")
    layer, mtime = busybox_layer(binary)
    created = datetime.fromtimestamp(mtime, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = image_config(diff_id, created, f"/bin/sh -c #(nop) ADD file:{diff_id[7:19]} in / ", ["sh"])
    return load_into_engine(socket_path, save_archive(layer, config, [tag]))


def debian_layer(suite: str, packages: list[str]) -> bytes:
    """A Debian minbase root filesystem as a tar, made with mmdebstrap on the host (needs a mirror)."""
    if shutil.which("mmdebstrap") is None:
        raise RuntimeError("mmdebstrap not found: apt-get install mmdebstrap")
    with tempfile.TemporaryDirectory(prefix="berth-debian-") as tmp:
        out = os.path.join(tmp, "rootfs.tar")
        argv = ["mmdebstrap", "--variant=minbase", "--mode=root", "--format=tar",
                "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/doc/*",
                "--dpkgopt=path-include=/usr/share/doc/*/copyright", "--dpkgopt=path-exclude=/usr/share/locale/*",
                "--customize-hook=rm -rf $1/var/lib/apt/lists/* $1/var/cache/apt/*.bin"]
        if packages:
            argv.append("--include=" + ",".join(packages))
        subprocess.run([*argv, suite, out], check=True)
        with open(out, "rb") as f:
            return f.read()


def bootstrap_debian(socket_path: str, tags: list[str], suite: str, packages: list[str], cmd: list[str],
                     env: list[str] | None = None) -> list[str]:
    layer = debian_layer(suite, packages)
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = image_config(diff_id, created, f"/bin/sh -c #(nop) ADD file:{diff_id[7:19]} in / ", cmd, env)
    return load_into_engine(socket_path, save_archive(layer, config, tags))


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m engine bootstrap")
    p.add_argument("image", choices=("busybox", "debian", "node"))
    p.add_argument("--host", default=f"unix://{DEFAULT_SOCKET}", help="engine socket (default %(default)s)")
    p.add_argument("--tag", default="")
    p.add_argument("--suite", default="bookworm")
    ns = p.parse_args(argv)
    if not ns.host.startswith(("unix://", "/")):
        print("bootstrap talks to a local engine: --host must be unix:///path/to/engine.sock", file=sys.stderr)
        return 2
    socket_path = ns.host.removeprefix("unix://")
    try:
        if ns.image == "busybox":
            lines = bootstrap_busybox(socket_path, ns.tag or "busybox:latest")
        elif ns.image == "debian":
            lines = bootstrap_debian(socket_path, [ns.tag or f"debian:{ns.suite}-slim"], ns.suite, [], ["bash"])
        else:
            # Debian's Node.js and npm on the Debian base; node:<major> and node:latest
            tags = [ns.tag] if ns.tag else ["node:latest", NODE_MAJOR_TAG.get(ns.suite, "node:lts")]
            lines = bootstrap_debian(socket_path, tags, ns.suite, ["nodejs", "npm", "ca-certificates"], ["node"],
                                     ["NODE_VERSION=debian"])
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"bootstrap failed: {exc}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0
