"""The registry credentials form: the password is write-only (never rendered back)."""

from __future__ import annotations

from typing import Any

from django import forms

from console.registries.models import RegistryCredential
from console.registries.references import canonical_server


class RegistryForm(forms.ModelForm):
    """Add or edit credentials. On edit an empty password keeps the stored one."""

    password = forms.CharField(
        label="Password or access token", required=False, strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}))

    class Meta:
        model = RegistryCredential
        fields = ("name", "server", "username")
        labels = {"server": "Registry address"}
        help_texts = {
            "name": "A name to recognise it by.",
            "server": "Host and port as in image names, e.g. registry.example.com:5000 or 127.0.0.1:5000; docker.io for Docker Hub.",
        }
        widgets = {
            "server": forms.TextInput(attrs={"placeholder": "registry.example.com:5000", "spellcheck": "false",
                                             "autocomplete": "off"}),
            "username": forms.TextInput(attrs={"autocomplete": "username", "spellcheck": "false"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.editing = bool(self.instance and self.instance.pk)
        if self.editing:
            self.fields["password"].help_text = "Leave empty to keep the stored one."
        else:
            self.fields["password"].required = True

    def clean_server(self) -> str:
        try:
            server = canonical_server(self.cleaned_data.get("server", ""))
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        taken = RegistryCredential.objects.filter(server=server).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(f"Credentials for {server} exist already: edit them instead.")
        return server

    def save(self, commit: bool = True) -> RegistryCredential:
        item = super().save(commit=False)
        if self.cleaned_data.get("password"):
            item.set_password(self.cleaned_data["password"])
        if commit:
            item.save()
        return item

    def test_password(self) -> str:
        """The password to test with: the one typed, else the stored one."""
        return self.cleaned_data.get("password") or (self.instance.password() if self.editing else "")
