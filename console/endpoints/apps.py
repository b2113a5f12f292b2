from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class EndpointsConfig(AppConfig):
    name = "console.endpoints"
    label = "endpoints"
    verbose_name = "Endpoints"

    def ready(self) -> None:
        from console.endpoints.signals import register_local_endpoint

        post_migrate.connect(register_local_endpoint, sender=self, dispatch_uid="endpoints.register_local_endpoint")
