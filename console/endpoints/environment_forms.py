"""Forms for environments and for adding a Berth engine with certificates from the console's CA.

`EnvironmentForm` creates or renames an environment; `MoveForm` is the one-select
form on each endpoint row ("move to another environment"); `BerthEngineForm` is the
first step of "Add a Berth engine": a name, the address the engine is reached at
and its port — the console issues the client certificate itself.
"""

from __future__ import annotations

import ipaddress
import re

from django import forms

from console.endpoints.engine_setup import DEFAULT_PORT
from console.endpoints.models import Endpoint, Environment

# A DNS name: dot-separated labels of letters, digits and inner hyphens.
DNS_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$", re.I)


class EnvironmentForm(forms.ModelForm):
    """Create or edit an environment: a unique name and an optional description."""

    class Meta:
        model = Environment
        fields = ("name", "description")
        labels = {"name": "Name", "description": "Description"}
        help_texts = {"name": "Shown as the heading of its endpoints, e.g. production, staging, lab.",
                      "description": "One line saying what runs there."}
        widgets = {"name": forms.TextInput(attrs={"autocomplete": "off", "autofocus": True}),
                   "description": forms.TextInput(attrs={"autocomplete": "off"})}

    def clean_name(self) -> str:
        name = (self.cleaned_data.get("name") or "").strip()
        if not name:
            raise forms.ValidationError("Give the environment a name.")
        clash = Environment.objects.filter(name__iexact=name).exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(f"An environment named {clash.first()} exists already.")
        return name


class MoveForm(forms.Form):
    """Which environment an endpoint belongs to (empty: none)."""

    environment = forms.ModelChoiceField(queryset=Environment.objects.all(), required=False,
                                         empty_label="No environment", label="Environment")


class BerthEngineForm(forms.Form):
    """Step one of "Add a Berth engine": what the endpoint is called and where the engine listens."""

    name = forms.SlugField(max_length=64, label="Name",
                           help_text="Letters, digits, - and _; also the certificate's name.",
                           widget=forms.TextInput(attrs={"autocomplete": "off", "autofocus": True, "spellcheck": "false"}))
    host = forms.CharField(max_length=253, label="Address",
                           help_text="The IP address or DNS name the console reaches the engine at; it goes into the engine's certificate.",
                           widget=forms.TextInput(attrs={"placeholder": "10.0.0.5 or engine1.example.com", "spellcheck": "false",
                                                         "autocapitalize": "none"}))
    port = forms.IntegerField(min_value=1, max_value=65535, initial=DEFAULT_PORT, label="Port",
                              help_text="2376 is Docker's port for the API over TLS.")
    environment = forms.ModelChoiceField(queryset=Environment.objects.all(), required=False,
                                         empty_label="No environment", label="Environment")

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if Endpoint.objects.filter(name=name).exists():
            raise forms.ValidationError(f"An endpoint named {name} exists already.")
        return name

    def clean_host(self) -> str:
        host = self.cleaned_data["host"].strip().strip("[]")
        try:
            ipaddress.ip_address(host)
            return host
        except ValueError:
            pass
        if not DNS_NAME.match(host):
            raise forms.ValidationError("Give an IP address (10.0.0.5) or a DNS name (engine1.example.com), without scheme or port.")
        return host.lower()
