from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("endpoints", "0001_initial")]

    operations = [
        migrations.AddField(model_name="endpoint", name="tls_ca", field=models.TextField(blank=True, default="")),
        migrations.AddField(model_name="endpoint", name="tls_cert", field=models.TextField(blank=True, default="")),
        migrations.AddField(model_name="endpoint", name="tls_key", field=models.TextField(blank=True, default="")),
    ]
