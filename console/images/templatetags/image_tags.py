"""Template filters for images pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def stamp_ago(value: Any) -> str:
    """A Unix time (seconds, as image history gives it) as "3 days ago"."""
    try:
        when = datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return "—"
    text = timesince(when, timezone.now(), depth=1)
    return "just now" if text.startswith(("0\xa0", "0 ")) else f"{text} ago"
