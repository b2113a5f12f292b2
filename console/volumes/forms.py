"""The volume forms: create, and import a tar. Each rule is checked server-side and reported on its field."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from console.endpoints.client import EngineError
from console.endpoints.models import Endpoint
from console.networks.fields import KeyValueField
from console.volumes import service

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
NAME_HELP = "Letters, digits, _ . and -; at least two characters."
LOCAL_OPTIONS = ("type", "device", "o", "size")


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise forms.ValidationError(f"“{name}” is not a valid volume name: {NAME_HELP[0].lower()}{NAME_HELP[1:]}")
    return name


class VolumeForm(forms.Form):
    name = forms.CharField(required=False, max_length=255, help_text="Empty: the engine picks a random name. " + NAME_HELP,
                           widget=forms.TextInput(attrs={"autofocus": True, "placeholder": "e.g. app-data",
                                                         "autocomplete": "off", "spellcheck": "false"}))
    driver = forms.CharField(max_length=64, initial="local", help_text="“local” keeps the data on the engine's host.")
    options = KeyValueField(what="option", label="Driver options",
                            help_text="For the local driver: type, device and o, as for mount(8) — "
                                      "e.g. type=tmpfs, device=tmpfs, o=size=64m. Empty: a plain directory.")
    labels = KeyValueField()

    def __init__(self, *args: Any, endpoint: Endpoint | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.endpoint = endpoint

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            return ""
        check_name(name)
        if self.endpoint is not None:
            try:
                taken = service.exists(self.endpoint, name)
            except EngineError:
                return name  # the create itself will say what is wrong with the engine
            if taken:
                raise forms.ValidationError(f"A volume named {name} already exists on {self.endpoint.name}.")
        return name

    def clean_driver(self) -> str:
        driver = self.cleaned_data["driver"].strip()
        if not re.match(r"^[a-zA-Z0-9][a-zA-Z0-9_./:-]*$", driver):
            raise forms.ValidationError("write a driver name such as local")
        return driver

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        options = data.get("options") or {}
        if data.get("driver") == "local" and options:
            unknown = [k for k in options if k not in LOCAL_OPTIONS]
            if unknown:
                self.add_error("options", f"the local driver knows {', '.join(LOCAL_OPTIONS)}; not {', '.join(unknown)}")
            elif any(k in options for k in ("type", "device", "o")) and not (options.get("type") and options.get("device")):
                self.add_error("options", "a mount needs both type and device (e.g. type=tmpfs and device=tmpfs)")
        return data

    def add_engine_error(self, message: str) -> None:
        """Put the engine's refusal on the field it is about (or on the form)."""
        lowered = message.lower()
        field = ("options" if "option" in lowered else "driver" if "plugin" in lowered or "driver" in lowered
                 else "name" if "name" in lowered else None)
        self.add_error(field, message)


class ImportForm(forms.Form):
    """Import a tar (or .tar.gz) into a volume, made when it does not exist."""

    name = forms.CharField(max_length=255, label="Volume", help_text="An existing volume gets the archive's files added "
                           "(same names are overwritten); a new name makes the volume first.",
                           widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false",
                                                         "placeholder": "e.g. app-data"}))
    archive = forms.FileField(label="Archive", help_text="A .tar or .tar.gz, such as an export from this console.",
                              widget=forms.FileInput(attrs={"accept": ".tar,.tgz,.gz,application/x-tar,application/gzip"}))

    def clean_name(self) -> str:
        return check_name(self.cleaned_data["name"].strip())
