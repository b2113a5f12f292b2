"""Move the old plain-text DRF tokens (rest_framework.authtoken) to hashed ApiToken rows; the keys keep working."""

import hashlib

from django.db import migrations


def hash_old_tokens(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    Token = apps.get_model("authtoken", "Token")
    ApiToken = apps.get_model("accounts", "ApiToken")
    for old in Token.objects.all():
        ApiToken.objects.get_or_create(
            key_hash=hashlib.sha256(old.key.encode()).hexdigest(),
            defaults={"user_id": old.user_id, "name": "API token (before multi-user)", "prefix": old.key[:12]},
        )
    Token.objects.all().delete()  # no plain key stays in the database


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("authtoken", "0003_tokenproxy")]
    operations = [migrations.RunPython(hash_old_tokens, migrations.RunPython.noop)]
