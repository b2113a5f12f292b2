import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = [migrations.swappable_dependency(settings.AUTH_USER_MODEL)]

    operations = [
        migrations.CreateModel(
            name="Activity",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("username", models.CharField(blank=True, default="", max_length=150)),
                ("endpoint", models.CharField(blank=True, default="", max_length=64)),
                ("action", models.CharField(db_index=True, max_length=64)),
                ("target", models.CharField(blank=True, default="", max_length=255)),
                ("outcome", models.CharField(choices=[("success", "success"), ("failure", "failure"), ("denied", "denied")], default="success", max_length=16)),
                ("message", models.TextField(blank=True, default="")),
                ("details", models.JSONField(blank=True, default=dict)),
                ("remote_addr", models.CharField(blank=True, default="", max_length=64)),
                ("user", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL)),
            ],
            options={"ordering": ("-created_at",)},
        ),
    ]
