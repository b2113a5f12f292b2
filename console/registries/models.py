"""Registry credentials: a username and an encrypted password or token per registry server."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from console.registries import crypto
from console.registries.references import login_address, registry_of


class RegistryCredential(models.Model):
    """Credentials for one registry `server` (canonical host[:port]; "docker.io" for Docker Hub).

    `secret` holds the password or token encrypted (console/registries/crypto.py); read it with
    `password()` (raises crypto.SecretUnreadable when the key file changed), write it with
    `set_password()`. Nothing here logs or renders the plain text.
    """

    name = models.CharField(max_length=64, unique=True)
    server = models.CharField(max_length=255, unique=True)
    username = models.CharField(max_length=255)
    secret = models.TextField(editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return f"{self.name} ({self.server})"

    def __repr__(self) -> str:  # never the secret, even in tracebacks
        return f"<RegistryCredential {self.pk} {self.server} user={self.username}>"

    def set_password(self, plain: str) -> None:
        self.secret = crypto.encrypt(plain)

    def password(self) -> str:
        return crypto.decrypt(self.secret)

    def auth_config(self) -> dict[str, str]:
        """The Docker SDK's auth_config for pull/push/login with these credentials."""
        return {"username": self.username, "password": self.password(), "serveraddress": login_address(self.server)}


def credential_for(image: str) -> RegistryCredential | None:
    """The stored credentials for the registry an image reference names, if any."""
    return RegistryCredential.objects.filter(server=registry_of(image)).first()


def auth_config_for(image: str) -> dict[str, Any] | None:
    """auth_config for pulling or pushing `image`, or None (anonymous). Raises crypto.SecretUnreadable."""
    found = credential_for(image)
    return found.auth_config() if found else None
