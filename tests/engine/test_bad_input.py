"""Bad input gets a clear 4xx in Docker's shape, the engine keeps serving, and nothing changes."""

from __future__ import annotations

import http.client
import io
import json
import socket
import tarfile
from typing import Any

import pytest

from tests.support.engine import EngineProcess


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=30)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(30)
        self.sock.connect(self.unix_path)


def call(engine: EngineProcess, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    conn = UnixHTTP(str(engine.socket))
    conn.request(method, path, body=body, headers=headers or {"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    try:
        return resp.status, json.loads(data) if data else None
    except ValueError:
        return resp.status, data


def snapshot(engine: EngineProcess) -> tuple[Any, Any]:
    _, containers = call(engine, "GET", "/v1.41/containers/json?all=1")
    _, images = call(engine, "GET", "/v1.41/images/json?all=1")
    return sorted(c["Id"] for c in containers), sorted((i["Id"], tuple(i["RepoTags"])) for i in images)


def tar_bytes(entries: list[tuple[str, bytes, str]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data, link in entries:
            info = tarfile.TarInfo(name)
            if link:
                info.type = tarfile.SYMTYPE
                info.linkname = link
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


CREATE = "/v1.41/containers/create"


@pytest.mark.parametrize("path,body,status,needle", [
    (CREATE, b"{not json", 400, "invalid JSON"),
    (CREATE, b"[1,2]", 400, "cannot unmarshal"),
    (CREATE, json.dumps({"Image": "busybox", "HostConfig": {"Memory": "lots"}}).encode(), 400,
     "cannot unmarshal string into Go struct field HostConfig.Memory of type int64"),
    (CREATE, json.dumps({"Image": "busybox", "HostConfig": {"Memory": 10**30}}).encode(), 400, "of type int64"),
    (CREATE, json.dumps({"Image": "busybox", "Env": "A=1"}).encode(), 400, "Config.Env"),
    (CREATE, json.dumps({"Image": "busybox", "Tty": "yes"}).encode(), 400, "Config.Tty of type bool"),
    (CREATE, json.dumps({"Image": "busybox", "HostConfig": {"CpuShares": 1.5}}).encode(), 400, "CpuShares"),
    (CREATE, json.dumps({"Image": "busybox", "HostConfig": {"Memory": 1024}}).encode(), 400, "Minimum memory limit"),
    (CREATE, json.dumps({"Image": "busybox", "HostConfig": {"NanoCpus": 10**15}}).encode(), 400, "Range of CPUs"),
    (CREATE, json.dumps({"Image": "busybox", "HostConfig": {"RestartPolicy": {"Name": "sometimes"}}}).encode(), 400,
     "invalid restart policy"),
    (CREATE, json.dumps({"Image": "no-such-image:1.0"}).encode(), 404, "No such image: no-such-image:1.0"),
    (CREATE + "?name=bad%20name", json.dumps({"Image": "busybox"}).encode(), 400, "Invalid container name"),
    (CREATE + "?name=x", json.dumps({"Image": "busybox"}).encode(), 400, "Invalid container name"),
    (CREATE, json.dumps({"Image": "busybox", "HostConfig": {"CapAdd": ["NOT_A_CAP"]}}).encode(), 400, "unknown capability"),
    (CREATE, json.dumps({"Image": "busybox", "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "70000"}]}}}).encode(),
     400, "invalid hostPort: 70000"),
    (CREATE, json.dumps({"Image": "busybox", "HostConfig": {"PortBindings": {"0/tcp": [{"HostPort": "8080"}]}}}).encode(),
     400, "invalid containerPort: 0"),
    (CREATE, json.dumps({"Image": "busybox", "HostConfig": {"PortBindings": {"80/tcp": [{"HostIp": "1.2.3", "HostPort": "1"}]}}}).encode(),
     400, "invalid IP address"),
    (CREATE, json.dumps({"Image": "busybox", "Cmd": [], "Entrypoint": [""]}).encode(), 201, ""),
])
def test_create_rejects_bad_bodies(engine: EngineProcess, path: str, body: bytes, status: int, needle: str) -> None:
    before = snapshot(engine)
    code, doc = call(engine, "POST", path, body)
    if status == 201:
        # busybox's own Cmd fills in: that is valid
        assert code == 201, doc
        call(engine, "DELETE", f"/v1.41/containers/{doc['Id']}?force=1")
        return
    assert code == status, doc
    assert needle in doc["message"]
    assert snapshot(engine) == before
    assert call(engine, "GET", "/_ping")[0] == 200


def test_duplicate_name_is_a_conflict(engine: EngineProcess) -> None:
    code, doc = call(engine, "POST", CREATE + "?name=twin", json.dumps({"Image": "busybox"}).encode())
    assert code == 201
    before = snapshot(engine)
    code2, doc2 = call(engine, "POST", CREATE + "?name=twin", json.dumps({"Image": "busybox"}).encode())
    assert code2 == 409 and 'The container name "/twin" is already in use' in doc2["message"]
    assert snapshot(engine) == before
    call(engine, "DELETE", f"/v1.41/containers/{doc['Id']}")


@pytest.mark.parametrize("method,path,status,needle", [
    ("GET", "/v1.41/containers/nope/json", 404, "No such container: nope"),
    ("POST", "/v1.41/containers/nope/start", 404, "No such container: nope"),
    ("DELETE", "/v1.41/images/nope:1", 404, "No such image"),
    ("GET", "/v1.41/images/nope/json", 404, "No such image: nope"),
    ("GET", "/v1.41/exec/nope/json", 404, "No such exec instance"),
    ("GET", "/v1.41/containers/json?filters=%7Bbad", 400, "invalid filter"),
    ("GET", "/v1.41/containers/json?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D", 400, "invalid filter 'bogus'"),
    ("GET", "/v1.10/version", 400, "too old"),
    ("GET", "/v1.99/version", 400, "too new"),
    ("POST", "/v1.41/images/busybox/tag?repo=Bad%20Repo", 400, "invalid reference format"),
    ("GET", "/v1.41/no/such/route", 404, "page not found"),
])
def test_errors_have_dockers_shape(engine: EngineProcess, method: str, path: str, status: int, needle: str) -> None:
    code, doc = call(engine, method, path)
    assert code == status
    assert needle in doc["message"]


def test_state_errors(engine: EngineProcess) -> None:
    _, doc = call(engine, "POST", CREATE + "?name=stopped1", json.dumps({"Image": "busybox", "Cmd": ["true"]}).encode())
    cid = doc["Id"]
    assert call(engine, "POST", f"/v1.41/containers/{cid}/kill")[0] == 409
    assert call(engine, "POST", f"/v1.41/containers/{cid}/pause")[0] == 409
    assert call(engine, "POST", f"/v1.41/containers/{cid}/stop")[0] == 304
    assert call(engine, "POST", f"/v1.41/containers/{cid}/exec", json.dumps({"Cmd": ["ls"]}).encode())[0] == 409
    assert call(engine, "POST", f"/v1.41/containers/{cid}/kill?signal=SIGNOPE")[0] in (400, 409)
    call(engine, "DELETE", f"/v1.41/containers/{cid}")


@pytest.mark.parametrize("entries", [
    [("../../evil", b"x", "")],
    [("/etc/evil", b"x", "")],
    [("link", b"", "../../../../tmp"), ("link/evil", b"x", "")],
])
def test_import_refuses_escaping_archives(engine: EngineProcess, entries: list[tuple[str, bytes, str]]) -> None:
    before = snapshot(engine)
    code, doc = call(engine, "POST", "/v1.41/images/create?fromSrc=-&repo=evil:1", tar_bytes(entries),
                     {"Content-Type": "application/x-tar"})
    assert code == 400, doc
    assert "escape" in doc["message"] or "absolute" in doc["message"] or "outside" in doc["message"]
    assert snapshot(engine) == before


def _save_archive_with(layer: bytes, config_extra: dict[str, Any] | None = None) -> bytes:
    import hashlib

    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}, **(config_extra or {})}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": ["evil:2"], "Layers": ["l/layer.tar"]}]).encode()
    return tar_bytes([(config_name, config, ""), ("l/layer.tar", layer, ""), ("manifest.json", manifest, "")])


@pytest.mark.parametrize("archive", [
    tar_bytes([("../../outside.txt", b"x", "")]),
    _save_archive_with(tar_bytes([("../../evil", b"x", "")])),
    _save_archive_with(tar_bytes([("lnk", b"", "/"), ("lnk/../../x", b"x", "")])),
    tar_bytes([("manifest.json", b"[{\"Config\": \"../../../etc/passwd\", \"Layers\": []}]", "")]),
    tar_bytes([("manifest.json", b"not json", "")]),
    b"definitely not a tar file" * 40,
])
def test_load_refuses_bad_archives(engine: EngineProcess, archive: bytes) -> None:
    before = snapshot(engine)
    code, doc = call(engine, "POST", "/v1.41/images/load?quiet=1", archive, {"Content-Type": "application/x-tar"})
    assert code == 200, doc  # as Docker: the refusal is the JSON stream's error (the CLI shows it and fails)
    assert doc["error"] and doc["errorDetail"]["message"] == doc["error"]
    assert snapshot(engine) == before
    assert call(engine, "GET", "/_ping")[0] == 200


def test_malformed_http_gets_400(engine: EngineProcess) -> None:
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(engine.socket))
        s.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 400")
    assert call(engine, "GET", "/_ping")[0] == 200


def test_connection_close_is_honoured(engine: EngineProcess) -> None:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(engine.socket))
        s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):  # the server closes: recv returns b"" instead of timing out
            data += chunk
    assert data.startswith(b"HTTP/1.1 200") and b"Connection: close" in data and data.endswith(b"OK")


def test_huge_json_body_is_refused(engine: EngineProcess) -> None:
    body = b'{"Image": "busybox", "Labels": {"x": "' + b"a" * (20 * 1024 * 1024) + b'"}}'
    code, doc = call(engine, "POST", CREATE, body)
    assert code == 400 and "larger than" in doc["message"]
