"""`{{ when|ago }}`: "5 minutes ago", or "just now" within the first minute (for the network, volume and notification pages)."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def ago(when: datetime | None) -> str:
    if when is None:
        return ""
    if (timezone.now() - when).total_seconds() < 60:
        return "just now"
    return f"{timesince(when, depth=1)} ago"
