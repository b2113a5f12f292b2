"""Parsers for console.observe's settings (used by settings.py with console.lib.env.env_parsed).

Pure: each returns the value or raises ValueError with what a valid one looks like.
"""

from __future__ import annotations

LOG_FORMATS = ("text", "json")
MIN_TOKEN_LENGTH = 16
MIN_DRIFT_INTERVAL = 5


def parse_log_format(text: str) -> str:
    """BERTH_LOG_FORMAT: "text" or "json"."""
    fmt = text.strip().lower()
    if fmt not in LOG_FORMATS:
        raise ValueError("expected text or json")
    return fmt


def parse_metrics_token(text: str) -> str:
    """BERTH_METRICS_TOKEN: "" (no scraper token) or a secret of at least 16 characters."""
    token = text.strip()
    if token and (len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token)):
        raise ValueError(f"must be at least {MIN_TOKEN_LENGTH} characters without spaces, or unset")
    return token


def parse_drift_interval(text: str) -> int:
    """BERTH_DRIFT_INTERVAL: whole seconds, at least 5."""
    try:
        seconds = int(text.strip())
    except ValueError:
        raise ValueError("expected whole seconds, e.g. 30") from None
    if seconds < MIN_DRIFT_INTERVAL:
        raise ValueError(f"must be at least {MIN_DRIFT_INTERVAL} seconds")
    return seconds
