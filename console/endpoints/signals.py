from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.conf import settings

from console.endpoints.models import LOCAL_ENDPOINT


def register_local_endpoint(sender: Any, using: str = "default", apps: Apps = global_apps, **kwargs: Any) -> None:
    """After migrate: make the endpoint "local" exist and point at BERTH_ENGINE_HOST.

    A post-migrate hook rather than a data migration because the setting may
    change between runs: migrating again (as `make up` does on every start)
    moves "local" to the current value.
    """
    try:
        endpoint_model = apps.get_model("endpoints", "Endpoint")
    except LookupError:  # the endpoints tables were migrated away
        return
    endpoint_model.objects.using(using).update_or_create(
        name=LOCAL_ENDPOINT, defaults={"url": settings.BERTH_ENGINE_HOST}
    )
