"""`manage.py ensure_admin`: the first superuser, so a fresh console can be signed into.

If the database has no user at all, create the superuser "admin" with a random
password and write that password to ADMIN_PASSWORD_FILE (mode 0600). The
password is never printed, only where it is. With any user present this does
nothing, so running it on every start is harmless.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from console.lib.files import write_private_file

ADMIN_USERNAME = "admin"


class Command(BaseCommand):
    help = "Create the superuser 'admin' with a random password (written to var/admin-password) if no user exists."

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        path = settings.ADMIN_PASSWORD_FILE
        with transaction.atomic():
            if user_model.objects.exists():
                self.stdout.write("Users exist already; no admin created.")
                return
            password = secrets.token_urlsafe(18)
            user_model.objects.create_superuser(username=ADMIN_USERNAME, email="", password=password)
            # Written inside the transaction: if the file cannot be written, no admin
            # exists whose password nobody knows.
            write_private_file(path, password + "\n")
        self.stdout.write(f"Created the superuser {ADMIN_USERNAME!r}; its password is in {path}")
