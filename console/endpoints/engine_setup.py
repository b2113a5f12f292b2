"""Setting up a remote Berth engine with mutual TLS: the commands to run and the endpoint to store.

Pure helpers shared by `manage.py issue_engine_cert` and the "Add a Berth engine"
page: where the engine's files go, the `python -m engine` line that serves the API
with `--tlsverify`, the tcp:// URL the console uses, and `new_remote_endpoint()`,
which fills an unsaved Endpoint with a client certificate from the console's CA.
"""

from __future__ import annotations

import ipaddress
import shlex
from pathlib import Path

from console.endpoints.models import Endpoint, Environment
from console.endpoints.pki import Authority

DEFAULT_PORT = 2376  # Docker's port for the API over TLS


def bracketed(host: str) -> str:
    """`host` as it goes before `:port` in a URL: IPv6 addresses in brackets."""
    host = host.strip().strip("[]")
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


def engine_url(host: str, port: int = DEFAULT_PORT) -> str:
    """The endpoint URL of an engine listening at host:port."""
    return f"tcp://{bracketed(host)}:{port}"


def engine_files_dir(name: str) -> Path:
    """Where `issue_engine_cert NAME` writes by default: <BERTH_VAR_DIR>/engines/NAME."""
    from django.conf import settings

    return Path(settings.VAR_DIR) / "engines" / name


def engine_command(host: str, port: int, directory: Path | str) -> str:
    """The shell line that starts a Berth engine serving its API at host:port with mutual TLS."""
    d = Path(directory)
    return shlex.join([
        "python", "-m", "engine", "--host", engine_url(host, port), "--tlsverify",
        "--tlscacert", str(d / "ca.pem"), "--tlscert", str(d / "server-cert.pem"), "--tlskey", str(d / "server-key.pem"),
    ])


def issue_command(name: str, host: str, port: int = DEFAULT_PORT, out: str = "") -> str:
    """The `manage.py issue_engine_cert` line for this engine (run on the console's host)."""
    argv = ["python", "manage.py", "issue_engine_cert", name, "--host", host.strip().strip("[]")]
    if port != DEFAULT_PORT:
        argv += ["--port", str(port)]
    if out:
        argv += ["--out", out]
    return shlex.join(argv)


def new_remote_endpoint(ca: Authority, name: str, host: str, port: int, environment: Environment | None) -> Endpoint:
    """An unsaved Endpoint for a Berth engine at host:port: the console's CA to verify the engine,
    and a fresh client certificate (CN console@NAME) the engine accepts because it trusts that CA."""
    client = ca.issue_client(f"console@{name}")
    return Endpoint(name=name, url=engine_url(host, port), environment=environment,
                    tls_ca=client.ca, tls_cert=client.cert, tls_key=client.key)
