"""Settings of the volumes app read from the environment (console/settings.py)."""

from __future__ import annotations


def parse_retention_hours(text: str) -> float:
    """BERTH_EXPORT_RETENTION_HOURS: hours a finished export is kept, more than 0 and at most 720 (30 days)."""
    try:
        hours = float(text.strip())
    except ValueError:
        raise ValueError("expected hours, e.g. 24") from None
    if not 0 < hours <= 720:
        raise ValueError("expected hours, more than 0 and at most 720")
    return hours
