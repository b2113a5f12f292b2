"""Checking an endpoint's TLS material before it is saved: the rules the form and the API share.

`tls_errors()` is the whole contract: given the URL and the three PEM texts (after
`merge_tls` applied the write-only key rule), it returns a message per field that is
wrong, or nothing; plain tcp:// to another host is one of the wrongs. The certificate and key are loaded into an `ssl` context, so a
key that does not belong to its certificate is caught here rather than at the first
connection.
"""

from __future__ import annotations

import ipaddress
import os
import re
import ssl
import tempfile
from urllib.parse import urlsplit

CERT_RE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
KEY_RE = re.compile(r"-----BEGIN ((RSA|EC|ENCRYPTED) )?PRIVATE KEY-----.+?-----END ((RSA|EC|ENCRYPTED) )?PRIVATE KEY-----", re.S)


def merge_tls(stored_key: str, ca: str, cert: str, key: str) -> tuple[str, str, str]:
    """The write-only key rule: a blank key keeps the stored one while a certificate remains.

    Clearing the certificate clears the key too (no orphan key is kept).
    """
    ca, cert, key = ca.strip(), cert.strip(), key.strip()
    if cert and not key:
        key = stored_key
    if not cert:
        key = ""
    return ca, cert, key


PLAIN_TCP_REFUSED = ("Plain TCP is only allowed to this host (127.0.0.1, localhost): anyone on the network could "
                     "take over an engine reached without TLS. Give the engine's CA, a client certificate and key "
                     "below, or use \u201cAdd a Berth engine\u201d, which issues them.")


def is_loopback_url(url: str) -> bool:
    """Whether a tcp:// URL names this host (localhost or a loopback address)."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tls_errors(url: str, ca: str, cert: str, key: str) -> dict[str, str]:
    """Per-field messages for TLS material that cannot work; empty when all is well.

    Plain TCP (no client certificate) is refused for any host but this one, as the
    engine refuses to listen on it (engine/config.py).
    """
    if url.startswith("tcp://") and not cert and not is_loopback_url(url):
        return {"url": PLAIN_TCP_REFUSED}
    if not (ca or cert or key):
        return {}
    if not url.startswith("tcp://"):
        return {"tls_cert" if cert else "tls_ca": "TLS is only used with tcp:// endpoints; a unix socket needs none."}
    errors: dict[str, str] = {}
    if ca and not CERT_RE.search(ca):
        errors["tls_ca"] = "Not a PEM certificate: it should start with -----BEGIN CERTIFICATE-----."
    if cert and not CERT_RE.search(cert):
        errors["tls_cert"] = "Not a PEM certificate: it should start with -----BEGIN CERTIFICATE-----."
    if key and not KEY_RE.search(key):
        errors["tls_key"] = "Not a PEM private key: it should start with -----BEGIN PRIVATE KEY-----."
    elif "ENCRYPTED" in key:
        errors["tls_key"] = "Encrypted keys are not supported: decrypt it with `openssl pkey -in key.pem`."
    if not cert and (ca or key):
        errors.setdefault("tls_cert", "Give the client certificate too: the engine checks it (mutual TLS).")
    if cert and not key:
        errors.setdefault("tls_key", "Give the client certificate's private key.")
    if not errors and cert and key:
        problem = _pair_problem(cert, key)
        if problem:
            errors["tls_key"] = problem
    return errors


def _pair_problem(cert: str, key: str) -> str:
    """Why `key` cannot be used with `cert` (ssl's words), or "" if they make a pair."""
    with tempfile.TemporaryDirectory(prefix="berth-tls-check-") as d:
        paths = []
        for name, text in (("cert.pem", cert), ("key.pem", key)):
            path = os.path.join(d, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
            paths.append(path)
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(paths[0], paths[1])
        except ssl.SSLError as exc:
            if "KEY_VALUES_MISMATCH" in str(exc) or "key values mismatch" in str(exc):
                return "This key does not belong to the certificate above."
            return f"The certificate and key cannot be loaded: {exc.reason or exc}."
    return ""
