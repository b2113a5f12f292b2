"""Encryption at rest for registry passwords and tokens: Fernet with a key derived from a key file.

The key file (default `<BERTH_VAR_DIR>/credentials.key`, or settings.BERTH_CREDENTIALS_KEY_FILE) is
random text the console creates on first use, mode 0600, next to the database but not in it: a copy
of the database alone does not reveal the passwords. The Fernet key is HKDF-SHA256 of the file's
text, so the file's format can be anything random. Losing or replacing the file makes the stored
secrets unreadable (`SecretUnreadable`): people then enter them again; nothing else breaks.
"""

from __future__ import annotations

import base64
import secrets
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from console.lib.files import read_or_create_secret

KDF_INFO = b"berth console: registry credentials v1"


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with the current key file."""


def key_file() -> Path:
    configured = getattr(settings, "BERTH_CREDENTIALS_KEY_FILE", None)
    return Path(configured) if configured else Path(settings.VAR_DIR) / "credentials.key"


@lru_cache(maxsize=4)
def _fernet_for(path: str, material: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=KDF_INFO).derive(material.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def fernet() -> Fernet:
    path = key_file()
    material = read_or_create_secret(path, lambda: secrets.token_urlsafe(48))
    return _fernet_for(str(path), material)


def encrypt(plain: str) -> str:
    return fernet().encrypt(plain.encode()).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, ValueError):
        raise SecretUnreadable("the stored password cannot be decrypted (the console's key file changed): "
                               "enter it again") from None
