"""The console's own certificate authority: mutual TLS between the console and remote engines.

Lifecycle: the CA is made on first use (`console_ca()`) and kept under
`<BERTH_VAR_DIR>/pki/` — `ca.pem` and `ca-key.pem` (mode 0600, in a 0700
directory). Two processes that start at once make one CA, not two (a lock file).
It signs two kinds of leaf certificates, each with a fresh key:

- a server certificate for an engine (`issue_server`), its subjectAltNames taken
  from the addresses the engine is reached at (IP addresses and DNS names), for
  `python -m engine --tlsverify --tlscacert ca.pem --tlscert ... --tlskey ...`;
- a client certificate for the console (`issue_client`), stored on the Endpoint,
  which the engine accepts because it trusts the same CA.

Keys are PKCS#8 PEM without a passphrase (the engine and the SDK read them so); no
function here logs or returns a key except to its caller.
"""

from __future__ import annotations

import datetime
import fcntl
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from console.lib.files import write_private_file

CA_DAYS = 3650
LEAF_DAYS = 825  # the longest validity clients commonly accept for a leaf certificate
CA_CERT, CA_KEY = "ca.pem", "ca-key.pem"


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key (PEM texts), and the CA certificate that signed it."""

    cert: str
    key: str
    ca: str


@dataclass(frozen=True)
class Authority:
    """A loaded CA: its certificate and key, able to sign leaf certificates."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def issue_server(self, common_name: str, hosts: Iterable[str]) -> Issued:
        """A server certificate for an engine reached at `hosts` (IPs and DNS names; at least one)."""
        names = subject_alt_names(hosts)
        if not names:
            raise ValueError("give at least one address the engine is reached at (an IP address or a DNS name)")
        return self._issue(common_name, ExtendedKeyUsageOID.SERVER_AUTH, x509.SubjectAlternativeName(names))

    def issue_client(self, common_name: str) -> Issued:
        """A client certificate (clientAuth) for the console to present to an engine."""
        return self._issue(common_name, ExtendedKeyUsageOID.CLIENT_AUTH, None)

    def _issue(self, common_name: str, usage: x509.ObjectIdentifier, sans: x509.SubjectAlternativeName | None) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))  # tolerate a little clock skew
            .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, content_commitment=False,
                                         data_encipherment=False, key_agreement=True, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        )
        if sans is not None:
            builder = builder.add_extension(sans, critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        return Issued(cert=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"), key=_key_pem(key),
                      ca=self.cert_pem)


def subject_alt_names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    """IP addresses as IPAddress entries, anything else as a DNSName; duplicates dropped, order kept."""
    names: list[x509.GeneralName] = []
    for host in hosts:
        host = host.strip().strip("[]")
        if not host:
            continue
        try:
            name: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            name = x509.DNSName(host.lower())
        if name not in names:
            names.append(name)
    return names


def console_ca(directory: Path | None = None) -> Authority:
    """The console's CA, made on first use under `directory` (default `<BERTH_VAR_DIR>/pki`)."""
    directory = directory or default_directory()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(directory / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (directory / CA_KEY).exists():
            ca_key = ec.generate_private_key(ec.SECP256R1())
            # The certificate first: a key without its certificate would be a half-made CA.
            write_private_file(directory / CA_CERT, _self_signed(ca_key).public_bytes(serialization.Encoding.PEM).decode("ascii"))
            write_private_file(directory / CA_KEY, _key_pem(ca_key))
        key = serialization.load_pem_private_key((directory / CA_KEY).read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate((directory / CA_CERT).read_bytes())
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{directory / CA_KEY} is not the console's CA key")
    return Authority(cert=cert, key=key)


def default_directory() -> Path:
    from django.conf import settings

    return Path(settings.VAR_DIR) / "pki"


def write_engine_files(issued: Issued, out: Path) -> dict[str, Path]:
    """Write ca.pem, server-cert.pem and server-key.pem into `out` (made 0700 if missing), each 0600."""
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    paths = {"ca": out / "ca.pem", "cert": out / "server-cert.pem", "key": out / "server-key.pem"}
    for name, text in (("ca", issued.ca), ("cert", issued.cert), ("key", issued.key)):
        write_private_file(paths[name], text)
    return paths


def _self_signed(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Berth"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Berth console CA")])
    now = datetime.datetime.now(datetime.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, key_encipherment=False, content_commitment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")
