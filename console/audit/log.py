"""Recording activities. Call `record()` for every change, whether it worked or not."""

from __future__ import annotations

import logging
from typing import Any

from console.audit.models import Activity

log = logging.getLogger("console.audit")

SECRET_WORDS = ("password", "secret", "token", "key", "cert")


def scrub(value: Any) -> Any:
    """Details without secrets: values of keys that look secret become "***"."""
    if isinstance(value, dict):
        return {k: ("***" if any(w in str(k).lower() for w in SECRET_WORDS) else scrub(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def record(request: Any, action: str, target: str = "", outcome: str = Activity.SUCCESS, message: str = "",
           endpoint: Any = None, **details: Any) -> Activity:
    user = getattr(request, "user", None) if request is not None else None
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    meta = getattr(request, "META", {}) if request is not None else {}
    entry = Activity.objects.create(
        user=user, username=getattr(user, "username", "") or "", endpoint=getattr(endpoint, "name", endpoint or "") or "",
        action=action, target=target[:255], outcome=outcome, message=message[:2000], details=scrub(details),
        remote_addr=meta.get("REMOTE_ADDR", "") or "",
    )
    log.info("%s %s %s %s", entry.username or "-", action, target, outcome)
    return entry
