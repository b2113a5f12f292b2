"""The console's CA and `manage.py issue_engine_cert`: files and modes, SANs, and certificates that verify
both ways (the console checks the engine, the engine checks the console) — and refuse strangers."""

from __future__ import annotations

import io
import ipaddress
import os
import socket
import ssl
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from django.core.management import CommandError, call_command

from console.endpoints.engine_setup import engine_command
from console.endpoints.pki import Authority, Issued, console_ca


def _files(tmp: Path, issued: Issued, prefix: str) -> tuple[Path, Path]:
    cert, key = tmp / f"{prefix}-cert.pem", tmp / f"{prefix}-key.pem"
    cert.write_text(issued.cert)
    key.write_text(issued.key)
    return cert, key


def _handshake(tmp: Path, server: Issued, client: Issued | None, server_name: str, ca_for_client: str) -> str:
    """One TLS handshake on loopback between a server requiring client certificates and a verifying client.
    Returns "" on success, or the side and error that failed it."""
    (tmp / "ca.pem").write_text(server.ca)
    (tmp / "client-ca.pem").write_text(ca_for_client)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(*_files(tmp, server, "server"))
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.load_verify_locations(tmp / "ca.pem")  # the engine trusts the console's CA only
    client_ctx = ssl.create_default_context(cafile=str(tmp / "client-ca.pem"))
    if client is not None:
        client_ctx.load_cert_chain(*_files(tmp, client, "client"))
    problems: list[str] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def serve() -> None:
            conn, _ = listener.accept()
            try:
                with server_ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"ok")
            except (ssl.SSLError, OSError) as exc:
                problems.append(f"server: {exc}")

        thread = threading.Thread(target=serve)
        thread.start()
        try:
            with socket.create_connection(listener.getsockname(), timeout=5) as raw:
                with client_ctx.wrap_socket(raw, server_hostname=server_name) as tls:
                    if tls.recv(2) != b"ok":
                        problems.append("client: no data")
        except (ssl.SSLError, OSError) as exc:
            problems.append(f"client: {exc}")
        thread.join(5)
    return "; ".join(problems)


@pytest.fixture
def ca(tmp_path: Path) -> Authority:
    return console_ca(tmp_path / "pki")


def test_the_ca_is_made_once_with_private_files(tmp_path: Path) -> None:
    first = console_ca(tmp_path / "pki")
    again = console_ca(tmp_path / "pki")
    assert first.cert_pem == again.cert_pem
    assert stat.S_IMODE(os.stat(tmp_path / "pki").st_mode) == 0o700
    for name in ("ca.pem", "ca-key.pem"):
        assert stat.S_IMODE(os.stat(tmp_path / "pki" / name).st_mode) == 0o600
    basic = first.cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert basic.ca is True


def test_server_certificates_carry_the_addresses_as_sans(ca: Authority) -> None:
    issued = ca.issue_server("edge1", ["10.1.2.3", "edge1.example.com", "EDGE1.example.com", "::1", "[2001:db8::5]"])
    cert = x509.load_pem_x509_certificate(issued.cert.encode())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["edge1.example.com"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.1.2.3"), ipaddress.ip_address("::1"),
                                                        ipaddress.ip_address("2001:db8::5")]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.issuer == ca.cert.subject
    with pytest.raises(ValueError):
        ca.issue_server("none", [" "])


def test_certificates_verify_both_ways(tmp_path: Path, ca: Authority) -> None:
    server = ca.issue_server("edge1", ["127.0.0.1", "localhost"])
    client = ca.issue_client("console@edge1")
    assert _handshake(tmp_path, server, client, "127.0.0.1", ca.cert_pem) == ""
    assert _handshake(tmp_path, server, client, "localhost", ca.cert_pem) == ""


def test_a_wrong_name_a_stranger_and_a_missing_certificate_are_refused(tmp_path: Path, ca: Authority) -> None:
    server = ca.issue_server("edge1", ["127.0.0.1"])
    client = ca.issue_client("console@edge1")
    # The console checks the engine's name: a certificate for 127.0.0.1 does not serve "localhost".
    assert "client:" in _handshake(tmp_path, server, client, "localhost", ca.cert_pem)
    # The engine checks the console: a client certificate from another CA is refused, and so is none.
    stranger = console_ca(tmp_path / "other-pki").issue_client("intruder")
    assert _handshake(tmp_path, server, stranger, "127.0.0.1", ca.cert_pem) != ""
    assert _handshake(tmp_path, server, None, "127.0.0.1", ca.cert_pem) != ""
    # And the console refuses an engine whose certificate another CA signed.
    impostor = console_ca(tmp_path / "other-pki").issue_server("edge1", ["127.0.0.1"])
    assert "client:" in _handshake(tmp_path, impostor, client, "127.0.0.1", ca.cert_pem)


def test_the_command_writes_the_files_and_prints_the_engine_line(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    settings.VAR_DIR = tmp_path / "var"
    out = io.StringIO()
    call_command("issue_engine_cert", "edge1", "--host", "10.1.2.3", "--host", "edge1.lan", "--out", str(tmp_path / "edge1"), stdout=out)
    text = out.getvalue()
    expected = engine_command("10.1.2.3", 2376, tmp_path / "edge1")
    assert expected in text
    assert expected == ("python -m engine --host tcp://10.1.2.3:2376 --tlsverify "
                        f"--tlscacert {tmp_path}/edge1/ca.pem --tlscert {tmp_path}/edge1/server-cert.pem "
                        f"--tlskey {tmp_path}/edge1/server-key.pem")
    assert "PRIVATE KEY" not in text
    for name in ("ca.pem", "server-cert.pem", "server-key.pem"):
        assert stat.S_IMODE(os.stat(tmp_path / "edge1" / name).st_mode) == 0o600
    assert (tmp_path / "edge1" / "ca.pem").read_text() == (tmp_path / "var" / "pki" / "ca.pem").read_text()
    cert = x509.load_pem_x509_certificate((tmp_path / "edge1" / "server-cert.pem").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["edge1.lan"]
    # Without --out: under the console's var dir; another port is in the line.
    out = io.StringIO()
    call_command("issue_engine_cert", "edge2", "--host", "fd00::7", "--port", "12376", stdout=out)
    assert "--host 'tcp://[fd00::7]:12376'" in out.getvalue()
    assert (tmp_path / "var" / "engines" / "edge2" / "server-key.pem").exists()


@pytest.mark.parametrize("argv", [["bad name", "--host", "10.0.0.1"], ["ok", "--host", "10.0.0.1", "--port", "0"],
                                  ["ok", "--host", " "]])
def test_the_command_refuses_bad_input(tmp_path: Path, settings, argv) -> None:  # type: ignore[no-untyped-def]
    settings.VAR_DIR = tmp_path / "var"
    with pytest.raises(CommandError):
        call_command("issue_engine_cert", *argv, "--out", str(tmp_path / "out"), stdout=io.StringIO())
