"""E-mail settings for notifications, read strictly from the environment (console/settings.py uses `email_settings`).

Variables (all optional; unset, Django's SMTP backend sends to localhost:25):

    EMAIL_BACKEND        smtp | console | locmem | file | dummy, or a dotted path to a backend class
    EMAIL_HOST           the SMTP server's name or address (default localhost)
    EMAIL_PORT           1-65535 (default 25; 587 is usual with TLS, 465 with SSL)
    EMAIL_HOST_USER      the SMTP login (empty: none)
    EMAIL_HOST_PASSWORD  its password (never logged, never shown)
    EMAIL_USE_TLS        1/0: STARTTLS on a plain connection
    EMAIL_USE_SSL        1/0: TLS from the first byte (not together with EMAIL_USE_TLS)
    EMAIL_TIMEOUT        seconds an SMTP call may take (default 10)
    DEFAULT_FROM_EMAIL   the sender of notifications (default berth@localhost)

A bad value stops the console at start-up with the variable's name (console/lib/env.py).
"""

from __future__ import annotations

import os
import re
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from console.lib.env import env_bool, env_parsed

BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "dummy": "django.core.mail.backends.dummy.EmailBackend",
}
ADDRESS = re.compile(r"^(?:[^<>@\s]+@[^<>@\s]+|[^<>]*<[^<>@\s]+@[^<>@\s]+>)$")


def parse_backend(text: str) -> str:
    word = text.strip()
    if word.lower() in BACKENDS:
        return BACKENDS[word.lower()]
    if not re.match(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)+$", word):
        raise ValueError(f"expected one of {', '.join(BACKENDS)} or a dotted path to a mail backend class")
    return word


def parse_port(text: str) -> int:
    try:
        port = int(text.strip())
    except ValueError:
        raise ValueError("expected a port number, 1-65535") from None
    if not 1 <= port <= 65535:
        raise ValueError("expected a port number, 1-65535")
    return port


def parse_timeout(text: str) -> float:
    try:
        seconds = float(text.strip())
    except ValueError:
        raise ValueError("expected seconds, e.g. 10") from None
    if not 0 < seconds <= 300:
        raise ValueError("expected seconds between 0 and 300")
    return seconds


def parse_address(text: str) -> str:
    value = text.strip()
    if not ADDRESS.match(value):
        raise ValueError("expected an address such as berth@example.com or Berth <berth@example.com>")
    return value


def email_settings() -> dict[str, Any]:
    """The EMAIL_* and DEFAULT_FROM_EMAIL settings from the environment (raises ImproperlyConfigured)."""
    use_tls, use_ssl = env_bool("EMAIL_USE_TLS", False), env_bool("EMAIL_USE_SSL", False)
    if use_tls and use_ssl:
        raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL: set one of them, not both")
    sender = env_parsed("DEFAULT_FROM_EMAIL", "berth@localhost", parse_address)
    return {
        "EMAIL_BACKEND": env_parsed("EMAIL_BACKEND", "smtp", parse_backend),
        "EMAIL_HOST": os.environ.get("EMAIL_HOST", "localhost").strip() or "localhost",
        "EMAIL_PORT": env_parsed("EMAIL_PORT", "25", parse_port),
        "EMAIL_HOST_USER": os.environ.get("EMAIL_HOST_USER", ""),
        "EMAIL_HOST_PASSWORD": os.environ.get("EMAIL_HOST_PASSWORD", ""),
        "EMAIL_USE_TLS": use_tls,
        "EMAIL_USE_SSL": use_ssl,
        "EMAIL_TIMEOUT": env_parsed("EMAIL_TIMEOUT", "10", parse_timeout),
        "DEFAULT_FROM_EMAIL": sender,
        "SERVER_EMAIL": sender,
    }
