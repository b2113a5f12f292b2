"""The endpoint form: name, URL, and TLS material pasted or uploaded; the key is write-only.

The key is never rendered back: on edit its textarea is empty and leaving it empty
keeps the stored key (see `console.endpoints.tls.merge_tls`). The local endpoint's
name and URL are fixed (the URL follows BERTH_ENGINE_HOST on every migrate), so the
form shows them read-only.
"""

from __future__ import annotations

from typing import Any

from django import forms

from console.endpoints.models import Endpoint
from console.lib.urls import check_engine_url
from console.endpoints.tls import merge_tls, tls_errors

PEM_LIMIT = 64 * 1024  # bytes: a PEM file larger than this is not a certificate or key

URL_HELP = "unix:///run/berth/engine.sock for an engine on this host, or tcp://host:2376 for a remote one."


class EndpointForm(forms.ModelForm):
    """Add or edit an endpoint. `cleaned_data` holds the TLS texts to store (files win over pasted text)."""

    tls_ca_file = forms.FileField(required=False, label="or upload ca.pem")
    tls_cert_file = forms.FileField(required=False, label="or upload cert.pem")
    tls_key_file = forms.FileField(required=False, label="or upload key.pem")
    clear_tls = forms.BooleanField(required=False, label="Remove the TLS certificates and key")

    class Meta:
        model = Endpoint
        fields = ("name", "url", "environment", "tls_ca", "tls_cert", "tls_key")
        labels = {"name": "Name", "url": "Engine URL", "environment": "Environment", "tls_ca": "CA certificate",
                  "tls_cert": "Client certificate", "tls_key": "Client key"}
        help_texts = {
            "name": "Letters, digits, - and _; shown in the endpoint menu.",
            "url": URL_HELP,
            "environment": "The group it is listed under on the endpoints page and the overview.",
            "tls_ca": "The CA that signed the engine's certificate (ca.pem). Without it the engine's certificate is not verified.",
            "tls_cert": "This console's client certificate (cert.pem).",
        }
        widgets = {
            "name": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}),
            "url": forms.TextInput(attrs={"placeholder": "tcp://10.0.0.5:2376", "spellcheck": "false", "autocapitalize": "none"}),
            "tls_ca": forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "placeholder": "-----BEGIN CERTIFICATE-----"}),
            "tls_cert": forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "placeholder": "-----BEGIN CERTIFICATE-----"}),
            "tls_key": forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "autocomplete": "off"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stored_key = self.instance.tls_key if self.instance.pk else ""
        stored_key = bool(self.stored_key)
        self.has_stored_key = stored_key
        self.initial["tls_key"] = ""  # write-only: never sent back to the browser
        key_field = self.fields["tls_key"]
        key_field.widget.attrs["placeholder"] = (
            "A key is stored. Leave empty to keep it; paste a new one to replace it."
            if stored_key else "-----BEGIN PRIVATE KEY-----")
        key_field.help_text = "Write-only: it is never shown again after saving."
        if self.instance.pk and self.instance.is_local:
            for name in ("name", "url"):
                self.fields[name].disabled = True
            self.fields["url"].help_text = "The local engine's URL follows the BERTH_ENGINE_HOST setting."
        if not stored_key and not (self.instance.pk and self.instance.tls_cert):
            del self.fields["clear_tls"]
        self.fields["environment"].empty_label = "No environment"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in ("tls_ca", "tls_cert", "tls_key"):
            upload = data.get(f"{name}_file")
            if upload:
                data[name] = self._read_upload(name, upload)
        # What this request brought, before the key rule: echoed back if the form is shown again.
        self.pem_texts = {name: (data.get(name) or "").strip() for name in ("tls_ca", "tls_cert", "tls_key")}
        if data.get("clear_tls"):
            data["tls_ca"] = data["tls_cert"] = data["tls_key"] = ""
        data["tls_ca"], data["tls_cert"], data["tls_key"] = merge_tls(
            self.stored_key, data.get("tls_ca") or "", data.get("tls_cert") or "", data.get("tls_key") or "")
        url = data.get("url") or ""
        if url and not self.has_error("url") and _valid_url(url):
            for name, message in tls_errors(url, data["tls_ca"], data["tls_cert"], data["tls_key"]).items():
                self.add_error(name, message)
        return data

    def _post_clean(self) -> None:
        # The model's fields get the merged TLS texts, not what the browser sent.
        for name in ("tls_ca", "tls_cert", "tls_key"):
            if name in self.cleaned_data:
                setattr(self.instance, name, self.cleaned_data[name])
        super()._post_clean()

    @property
    def show_tls(self) -> bool:
        """Whether the TLS section starts open: TLS is stored, was sent, has errors, or the URL is tcp://."""
        names = ("tls_ca", "tls_cert", "tls_key", "tls_ca_file", "tls_cert_file", "tls_key_file")
        if any(self.has_error(n) for n in names) or self.instance.tls_cert:
            return True
        if self.is_bound:
            return any(self.data.get(n) for n in names[:3]) or bool(self.files) or str(self.data.get("url", "")).startswith("tcp://")
        return False

    def echo_pem(self) -> None:
        """Before showing a bound form again: put the PEM texts it was given (uploads included) in
        its textareas, so nothing has to be entered twice. The key appears only if it came with this
        request; the stored key never leaves the server."""
        texts = getattr(self, "pem_texts", None)
        if texts is None:
            return
        echoed = self.data.copy()
        for name, text in texts.items():
            echoed[name] = text  # QueryDict: item assignment replaces, update() would append
        self.data = echoed

    def _read_upload(self, name: str, upload: Any) -> str:
        if upload.size > PEM_LIMIT:
            self.add_error(f"{name}_file", "This file is too large to be a PEM certificate or key.")
            return ""
        try:
            return upload.read().decode("ascii")
        except UnicodeDecodeError:
            self.add_error(f"{name}_file", "This is not a PEM file (PEM is text); convert DER with openssl.")
            return ""

    def changed_summary(self) -> list[str]:
        """The names of the fields this edit changes (for the activity log); never their secret values."""
        names = [n for n in self.changed_data if n in ("name", "url", "environment", "tls_ca", "tls_cert")]
        if self.cleaned_data.get("tls_key") != self.stored_key:
            names.append("tls_key")
        return names


def _valid_url(url: str) -> bool:
    """Whether TLS checks make sense yet (the URL's own error is reported by the model's validator)."""
    try:
        check_engine_url(url)
    except ValueError:
        return False
    return True
