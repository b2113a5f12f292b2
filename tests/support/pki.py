"""Throw-away TLS material for tests: a CA, and a client certificate and key it signed (openssl CLI)."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pki:
    ca: str
    cert: str
    key: str
    other_key: str  # a valid key that does not belong to `cert`


def make_pki() -> Pki:
    """A fresh CA, a client certificate signed by it, its key, and an unrelated key (PEM texts)."""
    with tempfile.TemporaryDirectory(prefix="berth-pki-") as d:
        def run(*args: str) -> None:
            subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=berth-test-ca")
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "client.csr", "-subj", "/CN=console")
        run("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
            "-out", "cert.pem", "-days", "2")
        run("genpkey", "-algorithm", "RSA", "-out", "other-key.pem")
        read = lambda name: (Path(d) / name).read_text()  # noqa: E731
        return Pki(ca=read("ca.pem"), cert=read("cert.pem"), key=read("key.pem"), other_key=read("other-key.pem"))
