"""Template filters for jobs pages: state badges, durations and byte counts."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()

BADGES = {"queued": "badge-neutral", "running": "badge-info", "succeeded": "badge-success", "failed": "badge-failure",
          "cancelled": "badge-warn"}


@register.filter
def job_badge(state: str) -> str:
    """The badge class of a job state (static/js/jobs-common.js has the same table)."""
    return BADGES.get(state, "badge-neutral")


@register.filter
def seconds(value: Any) -> str:
    """12 → "12 s", 75 → "1 min 15 s", 3720 → "1 h 2 min"; "—" for None."""
    if value is None:
        return "—"
    total = int(round(float(value)))
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


@register.filter
def percent(value: Any) -> str:
    """0.423 → "42%" (for --value and labels); "" for None."""
    return "" if value is None else f"{max(0.0, min(1.0, float(value))) * 100:.0f}%"


@register.filter
def percent_value(value: Any) -> str:
    """0.423 → "42" (for aria-valuenow); "" for None."""
    return "" if value is None else f"{max(0.0, min(1.0, float(value))) * 100:.0f}"


@register.filter
def item_fraction(item: dict[str, Any]) -> float | None:
    """An item's fraction: its own, else current/total, else None (unknown)."""
    if item.get("fraction") is not None:
        return float(item["fraction"])
    try:
        total, current = float(item.get("total") or 0), float(item.get("current") or 0)
    except (TypeError, ValueError):
        return None
    return min(1.0, current / total) if total > 0 else None


@register.filter
def ago(when: Any) -> str:
    """ "5 minutes ago", or "just now" within the first minute."""
    if when is None:
        return "—"
    from django.utils import timezone
    from django.utils.timesince import timesince

    text = timesince(when, timezone.now(), depth=1)
    return "just now" if text.startswith(("0\xa0", "0 ")) else f"{text} ago"
