"""Registry names, as Docker spells them: which registry an image reference names, and a server
address as people type it ("https://registry.example.com:5000/v2/") made canonical. Pure functions."""

from __future__ import annotations

import re

DOCKER_HUB = "docker.io"
HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})
HUB_LOGIN_ADDRESS = "https://index.docker.io/v1/"
SERVER_RE = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$")


def canonical_server(text: str) -> str:
    """ "https://Registry.example.com:5000/v2/" → "registry.example.com:5000"; Docker Hub's names → "docker.io".

    Raises ValueError with a message for anything that is not host[:port].
    """
    server = text.strip().lower()
    server = re.sub(r"^[a-z][a-z0-9+.-]*://", "", server)
    server = re.sub(r"/(v1|v2)/?$", "", server).rstrip("/")
    if not server:
        raise ValueError("Enter the registry's address, e.g. registry.example.com:5000 or docker.io.")
    if "/" in server or not SERVER_RE.match(server):
        raise ValueError("Enter a host name or address with an optional port, e.g. registry.example.com:5000.")
    port = server.rsplit(":", 1)[1] if ":" in server and not server.endswith("]") else ""
    if port and not 0 < int(port) < 65536:
        raise ValueError("The port must be between 1 and 65535.")
    return DOCKER_HUB if server in HUB_ALIASES else server


def registry_of(image: str) -> str:
    """The registry an image reference names: "busybox" and "library/x" → "docker.io",
    "127.0.0.1:5000/app:v1" → "127.0.0.1:5000" (Docker's rule: a first component with "." or ":", or
    "localhost", is a registry)."""
    first, sep, _ = image.strip().partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        try:
            return canonical_server(first)
        except ValueError:
            return first.lower()
    return DOCKER_HUB


def login_address(server: str) -> str:
    """What the engine's POST /auth wants as serveraddress (Docker Hub's historical v1 address)."""
    return HUB_LOGIN_ADDRESS if server == DOCKER_HUB else server
