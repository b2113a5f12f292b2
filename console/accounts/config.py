"""Parsers for the accounts settings (pure; imported by console/settings.py, so no Django imports here)."""

from __future__ import annotations


def parse_session_hours(text: str) -> int:
    """BERTH_SESSION_HOURS: whole hours from 1 to 720 (30 days)."""
    if not text.strip().isdigit() or not 1 <= int(text) <= 720:
        raise ValueError("write a whole number of hours from 1 to 720")
    return int(text)
