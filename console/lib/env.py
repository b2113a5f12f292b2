"""Reading settings from environment variables, strictly.

Each reader takes the variable's name and a default written as the variable
would be, and either returns a parsed value or raises `ImproperlyConfigured`
naming the variable, so a bad value stops the console at start-up rather than
at the first request that happens to need it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def env_parsed(name: str, default: str, parse: Callable[[str], T]) -> T:
    """The variable `name` (or `default` when unset) passed through `parse`, which raises ValueError."""
    raw = os.environ.get(name, default)
    try:
        return parse(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r}: {exc}") from None


def parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"expected one of {', '.join(sorted(TRUE_WORDS | FALSE_WORDS))}")


def parse_list(text: str) -> list[str]:
    """A comma-separated list; blanks around items and empty items are dropped."""
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_absolute_path(text: str) -> Path:
    if not text.startswith("/"):
        raise ValueError("must be an absolute path")
    return Path(text)


def parse_secret_key(text: str) -> str:
    """A usable SECRET_KEY, or "" when none is given (the caller then generates one)."""
    if text and len(text) < 32:
        raise ValueError("must be at least 32 characters; leave it unset to have one generated")
    return text


def parse_log_level(text: str) -> str:
    level = text.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("expected DEBUG, INFO, WARNING or ERROR")
    return level


def env_bool(name: str, default: bool) -> bool:
    return env_parsed(name, "true" if default else "false", parse_bool)


def env_list(name: str, default: str) -> list[str]:
    return env_parsed(name, default, parse_list)
