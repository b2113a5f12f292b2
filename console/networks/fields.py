"""Form fields shared by the networks, volumes and notifications forms."""

from __future__ import annotations

from typing import Any

from django import forms


def parse_key_values(text: str, what: str = "label") -> dict[str, str]:
    """{key: value} from lines of `key=value` (or a bare `key`, value ""); blank lines and # comments are skipped.

    ValueError names the line: a key with spaces or nothing before "=", or a key given twice.
    """
    pairs: dict[str, str] = {}
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        if not key or any(c.isspace() for c in key):
            raise ValueError(f"line {number}: write {what}s as key=value, one per line (got {line[:40]!r})")
        if key in pairs:
            raise ValueError(f"line {number}: {key} is given twice")
        pairs[key] = value.strip()
    return pairs


def key_values_text(pairs: dict[str, str] | None) -> str:
    """The text `parse_key_values` reads back as `pairs`."""
    return "\n".join(f"{k}={v}" if v else k for k, v in (pairs or {}).items())


class ConditionalCharField(forms.CharField):
    """A field its form requires only in some cases (its clean() says when): shown without "(optional)",
    never refused for being empty by itself."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=True, **kwargs)

    def validate(self, value: Any) -> None:
        if value not in self.empty_values:
            super().validate(value)


class KeyValueField(forms.CharField):
    """A textarea of key=value lines, cleaned to a dict."""

    def __init__(self, *, what: str = "label", rows: int = 3, **kwargs: Any) -> None:
        self.what = what
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": rows, "placeholder": "key=value, one per line",
                                                          "spellcheck": "false", "class": "mono"}))
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        return key_values_text(value) if isinstance(value, dict) else value

    def clean(self, value: Any) -> dict[str, str]:  # type: ignore[override]
        text = super().clean(value)
        try:
            return parse_key_values(text, self.what)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
