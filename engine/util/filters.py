"""The `filters` query parameter, in both encodings clients send (pure).

CLI: a JSON map of maps `{"label":{"k=v":true}}`; docker-py and compose: the
legacy map of lists `{"label":["k=v"]}`. Both become `Filters`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from engine.errors import InvalidArgument
from engine.util.timefmt import parse_time_arg


class Filters:
    def __init__(self, values: dict[str, list[str]] | None = None) -> None:
        self._values: dict[str, list[str]] = values or {}

    @classmethod
    def parse(cls, raw: str | None) -> Filters:
        if raw is None or raw.strip() in ("", "{}", "null"):
            return cls()
        try:
            doc = json.loads(raw)
        except ValueError:
            raise InvalidArgument(f"invalid filter: {raw!r} is not JSON") from None
        if not isinstance(doc, dict):
            raise InvalidArgument("invalid filter: expected a JSON object")
        values: dict[str, list[str]] = {}
        for key, value in doc.items():
            if isinstance(value, dict):
                values[key] = [str(k) for k, on in value.items() if on]
            elif isinstance(value, list):
                values[key] = [str(v) for v in value]
            elif isinstance(value, str):
                values[key] = [value]
            else:
                raise InvalidArgument(f"invalid filter: value of {key!r} has the wrong type")
        return cls(values)

    def validate(self, allowed: Iterable[str]) -> None:
        allowed = set(allowed)
        for key in self._values:
            if key not in allowed:
                raise InvalidArgument(f"invalid filter '{key}'")

    def has(self, key: str) -> bool:
        return bool(self._values.get(key))

    def values(self, key: str) -> list[str]:
        return list(self._values.get(key, []))

    def one(self, key: str) -> str:
        values = self._values.get(key, [])
        if len(values) != 1:
            raise InvalidArgument(f"filter '{key}' takes exactly one value")
        return values[0]

    def bool_value(self, key: str, default: bool | None) -> bool | None:
        values = self._values.get(key)
        if not values:
            return default
        out = set()
        for v in values:
            low = v.lower()
            if low in ("true", "1"):
                out.add(True)
            elif low in ("false", "0"):
                out.add(False)
            else:
                raise InvalidArgument(f"invalid filter '{key}={v}'")
        if len(out) > 1:
            raise InvalidArgument(f"invalid filter '{key}': conflicting values")
        return out.pop()

    def time_value(self, key: str) -> int | None:
        values = self._values.get(key)
        if not values:
            return None
        return parse_time_arg(values[-1])

    def match_labels(self, labels: dict[str, str] | None, key: str = "label") -> bool:
        labels = labels or {}
        for cond in self._values.get(key, []):
            name, eq, value = cond.partition("=")
            if name not in labels or (eq and labels[name] != value):
                return False
        for cond in self._values.get(key + "!", []):
            name, eq, value = cond.partition("=")
            if name in labels and (not eq or labels[name] == value):
                return False
        return True

    def match_any(self, key: str, candidates: Iterable[str], prefix: bool = False) -> bool:
        """True if the filter is absent or one of its values equals (or prefixes) a candidate."""
        wanted = self._values.get(key)
        if not wanted:
            return True
        cands = list(candidates)
        for w in wanted:
            for c in cands:
                if c == w or (prefix and c.startswith(w)):
                    return True
        return False
