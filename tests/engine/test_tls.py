"""The engine on TCP with mutual TLS, by Docker's conventions (ca.pem, cert.pem, key.pem)."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.engine import DOCKER, EngineProcess


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d: Path) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=berth-test-ca",
             "-keyout", "ca-key.pem", "-out", "ca.pem", cwd=d)
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, ext in (("server", "server.ext"), ("client", "client.ext")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", f"{name}-key.pem",
                 "-out", f"{name}.csr", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
                 "-days", "2", "-extfile", ext, "-out", f"{name}.pem", cwd=d)
    client = d / "client"
    client.mkdir()
    for src, dst in (("ca.pem", "ca.pem"), ("client.pem", "cert.pem"), ("client-key.pem", "key.pem")):
        (client / dst).write_bytes((d / src).read_bytes())


@pytest.fixture
def tls_engine(tmp_path: Path) -> Iterator[tuple[EngineProcess, int, Path]]:
    if os.geteuid() != 0:
        pytest.skip("the engine needs root")
    make_pki(tmp_path)
    port = _free_port()
    e = EngineProcess()
    e.start(["-H", f"tcp://127.0.0.1:{port}", "--tlsverify", "--tlscacert", str(tmp_path / "ca.pem"),
             "--tlscert", str(tmp_path / "server.pem"), "--tlskey", str(tmp_path / "server-key.pem")])
    try:
        yield e, port, tmp_path
    finally:
        assert not e.cleanup()


def test_docker_tlsverify_works(tls_engine: tuple[EngineProcess, int, Path]) -> None:
    _e, port, pki = tls_engine
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["DOCKER_CERT_PATH"] = str(pki / "client")
    r = subprocess.run([DOCKER, "--tlsverify", "-H", f"tcp://127.0.0.1:{port}", "version", "--format", "{{.Server.APIVersion}}"],
                       env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "1.41"


def test_clients_without_a_certificate_are_refused(tls_engine: tuple[EngineProcess, int, Path]) -> None:
    _e, port, pki = tls_engine
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    r = subprocess.run([DOCKER, "--tls", "--tlscacert", str(pki / "ca.pem"), "-H", f"tcp://127.0.0.1:{port}", "version"],
                       env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "Server:" not in r.stdout


def test_plain_tcp_off_loopback_is_refused() -> None:
    r = subprocess.run(["python3", "-m", "engine", "-H", "tcp://0.0.0.0:2375"], cwd=Path(__file__).resolve().parents[2],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "refusing plain TCP" in r.stderr
