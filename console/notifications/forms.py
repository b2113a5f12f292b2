"""The rule form: every rule checked server-side, on its field.

Webhook URLs must be http:// or https:// with a host (any host: a receiver on
a private network is a normal setup, and only administrators make rules).
E-mail rules take one or more addresses, comma-separated.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from console.networks.fields import ConditionalCharField, KeyValueField
from console.notifications.delivery import recipients
from console.notifications.models import Rule


def check_webhook_url(url: str) -> str:
    """`url` if it is an http(s) URL with a host; ValidationError otherwise."""
    url = url.strip()
    if any(c.isspace() for c in url):
        raise ValidationError("a URL cannot contain spaces")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValidationError("use an http:// or https:// URL")
    try:
        parts.port  # noqa: B018 - parsing it raises on a bad port
    except ValueError:
        raise ValidationError("the port is not a number between 1 and 65535") from None
    if not parts.hostname:
        raise ValidationError("the URL needs a host, such as https://hooks.example.com/berth")
    return url


class RuleForm(forms.ModelForm):
    webhook_url = ConditionalCharField(max_length=500, label="Webhook URL",
                                       help_text="Gets a POST with a JSON body; any 2xx answer counts as delivered.",
                                       widget=forms.URLInput(attrs={"placeholder": "https://hooks.example.com/berth",
                                                                    "spellcheck": "false"}))
    email_to = ConditionalCharField(max_length=500, label="E-mail to", help_text="One or more addresses, comma-separated.",
                                    widget=forms.TextInput(attrs={"placeholder": "ops@example.com", "spellcheck": "false"}))
    label_filter = KeyValueField(label="Only containers with these labels",
                                 help_text="key=value, or just key (any value); one per line. Empty: every container.")

    class Meta:
        model = Rule
        fields = ("name", "kind", "label_filter", "restart_count", "restart_window", "channel", "webhook_url", "email_to",
                  "enabled")
        labels: ClassVar[dict[str, str]] = {"kind": "When", "restart_count": "Deaths", "restart_window": "Within (minutes)", "channel": "Send by",
                  "enabled": "Enabled"}
        help_texts: ClassVar[dict[str, str]] = {
            "restart_count": "How many times the container dies before this fires.",
        }
        widgets: ClassVar[dict[str, forms.Widget]] = {
            "name": forms.TextInput(attrs={"autofocus": True, "placeholder": "e.g. Web tier unhealthy"}),
            "restart_count": forms.NumberInput(attrs={"min": 2, "max": 100}),
            "restart_window": forms.NumberInput(attrs={"min": 1, "max": 1440}),
        }

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise ValidationError("give the rule a name")
        return name

    def clean_restart_count(self) -> int:
        value = self.cleaned_data.get("restart_count")
        if value is None or not 2 <= value <= 100:
            raise ValidationError("between 2 and 100")
        return value

    def clean_restart_window(self) -> int:
        value = self.cleaned_data.get("restart_window")
        if value is None or not 1 <= value <= 1440:
            raise ValidationError("between 1 and 1440 minutes (a day)")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("channel") == Rule.WEBHOOK:
            url = (data.get("webhook_url") or "").strip()
            if not url:
                self.add_error("webhook_url", "where should the notification go?")
            else:
                try:
                    data["webhook_url"] = check_webhook_url(url)
                except ValidationError as exc:
                    self.add_error("webhook_url", exc)
        elif data.get("channel") == Rule.EMAIL:
            self._clean_recipients(data)
        return data

    def _clean_recipients(self, data: dict[str, Any]) -> None:
        addresses = recipients(data.get("email_to") or "")
        if not addresses:
            self.add_error("email_to", "who should get the e-mail?")
            return
        bad = []
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                bad.append(address)
        if bad:
            self.add_error("email_to", f"not an e-mail address: {', '.join(bad)}")
        else:
            data["email_to"] = ", ".join(addresses)
