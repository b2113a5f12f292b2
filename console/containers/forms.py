"""The create form's parts: one Django form for the container and a formset per kind of row.

Every validation rule of a container spec lives here once; console/containers/specforms.py
binds these together (`SpecForms`) for the create page and the REST API alike.
Text fields stay as typed (stripped) once the parser that will read them accepts them.
"""

from __future__ import annotations

import posixpath
from typing import Any

from django import forms
from django.forms.utils import pretty_name

from console.containers import parsing
from console.containers.specs import BUILTIN_NETWORKS, RESTART_POLICIES, VOLUME_TYPES, port_pairs

PROTOCOL_CHOICES = [(p, p) for p in parsing.PROTOCOLS]
RESTART_CHOICES = [("no", "Never"), ("always", "Always"), ("unless-stopped", "Unless stopped"),
                   ("on-failure", "On failure")]
VOLUME_CHOICES = [("volume", "Named volume"), ("bind", "Bind mount"), ("tmpfs", "tmpfs")]
assert [c for c, _ in RESTART_CHOICES] == list(RESTART_POLICIES) and [c for c, _ in VOLUME_CHOICES] == list(VOLUME_TYPES)


def _parsed(value: str, parse: Any) -> str:
    """`value` stripped, after checking that `parse` accepts it (ValueError → a field error)."""
    value = (value or "").strip()
    if value:
        try:
            parse(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
    return value


class ContainerForm(forms.Form):
    """The single-valued fields of a spec; text stays as typed (stripped) once it parses."""

    image = forms.CharField(max_length=255, widget=forms.TextInput(attrs={"placeholder": "busybox:latest", "autofocus": True}))
    name = forms.CharField(max_length=128, required=False, widget=forms.TextInput(attrs={"placeholder": "generated when empty"}))
    command = forms.CharField(required=False, widget=forms.TextInput(attrs={"placeholder": "image default"}))
    entrypoint = forms.CharField(required=False, widget=forms.TextInput(attrs={"placeholder": "image default"}))
    working_dir = forms.CharField(required=False, label="Working directory", widget=forms.TextInput(attrs={"placeholder": "/"}))
    user = forms.CharField(required=False, widget=forms.TextInput(attrs={"placeholder": "image default (e.g. 1000:1000)"}))
    env_file = forms.CharField(required=False, label="Paste a .env file", widget=forms.Textarea(attrs={"rows": 3, "placeholder": "NAME=value, one per line"}))
    network = forms.CharField(required=False, widget=forms.TextInput(attrs={"list": "network-names", "placeholder": "bridge"}))
    aliases = forms.CharField(required=False, help_text="Comma-separated; user-defined networks only.")
    restart_policy = forms.ChoiceField(choices=RESTART_CHOICES, initial="no", required=False)
    max_retries = forms.IntegerField(required=False, min_value=0, label="Max retries")
    memory = forms.CharField(required=False, label="Memory limit", widget=forms.TextInput(attrs={"placeholder": "e.g. 256m or 1g"}))
    cpu_shares = forms.IntegerField(required=False, min_value=0, max_value=262144, label="CPU shares")
    cpus = forms.CharField(required=False, label="CPUs", widget=forms.TextInput(attrs={"placeholder": "e.g. 0.5", "inputmode": "decimal"}))
    blkio_weight = forms.IntegerField(required=False, min_value=0, max_value=1000, label="Block I/O weight")
    pids_limit = forms.IntegerField(required=False, min_value=-1, label="PIDs limit")
    health_command = forms.CharField(required=False, label="Command", widget=forms.TextInput(attrs={"placeholder": "e.g. wget -q -O /dev/null http://localhost/"}))
    health_interval = forms.CharField(required=False, label="Interval", widget=forms.TextInput(attrs={"placeholder": "30s"}))
    health_timeout = forms.CharField(required=False, label="Timeout", widget=forms.TextInput(attrs={"placeholder": "30s"}))
    health_retries = forms.IntegerField(required=False, min_value=0, label="Retries")
    health_start_period = forms.CharField(required=False, label="Start period", widget=forms.TextInput(attrs={"placeholder": "0s"}))
    no_healthcheck = forms.BooleanField(required=False, label="Disable the image's health check")
    privileged = forms.BooleanField(required=False, label="Privileged (every device and capability of the host)",
                                    help_text="Endpoints usually forbid this to non-administrators (security settings).")

    def clean_image(self) -> str:
        image = self.cleaned_data["image"].strip()
        if not image or any(c.isspace() for c in image):
            raise forms.ValidationError("write an image reference such as busybox or nginx:1.27")
        return image

    def clean_name(self) -> str:
        return _parsed(self.cleaned_data.get("name", ""), parsing.check_container_name).lstrip("/")

    def clean_command(self) -> str:
        return _parsed(self.cleaned_data.get("command", ""), parsing.split_command)

    def clean_entrypoint(self) -> str:
        return _parsed(self.cleaned_data.get("entrypoint", ""), parsing.split_command)

    def clean_working_dir(self) -> str:
        return _parsed(self.cleaned_data.get("working_dir", ""), _absolute_path)

    def clean_env_file(self) -> str:
        return _parsed(self.cleaned_data.get("env_file", ""), parsing.parse_env_file)

    def clean_memory(self) -> str:
        return _parsed(self.cleaned_data.get("memory", ""), _memory)

    def clean_cpus(self) -> str:
        return _parsed(self.cleaned_data.get("cpus", ""), parsing.parse_cpus)

    def clean_blkio_weight(self) -> int | None:
        weight = self.cleaned_data.get("blkio_weight")
        if weight not in (None, 0) and weight < 10:
            raise forms.ValidationError("between 10 and 1000 (0 leaves the default)")
        return weight

    def clean_pids_limit(self) -> int | None:
        limit = self.cleaned_data.get("pids_limit")
        if limit == 0:
            raise forms.ValidationError("more than 0, or -1 for no limit")
        return limit

    def clean_health_interval(self) -> str:
        return _parsed(self.cleaned_data.get("health_interval", ""), _health_duration)

    def clean_health_timeout(self) -> str:
        return _parsed(self.cleaned_data.get("health_timeout", ""), _health_duration)

    def clean_health_start_period(self) -> str:
        return _parsed(self.cleaned_data.get("health_start_period", ""), _health_duration)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["restart_policy"] = data.get("restart_policy") or "no"
        if data.get("max_retries") and data.get("restart_policy") != "on-failure":
            self.add_error("max_retries", "only the on-failure policy retries a number of times")
        if data.get("aliases"):
            if (data.get("network") or "") in BUILTIN_NETWORKS:
                self.add_error("aliases", "aliases need a user-defined network")
            else:
                data["aliases"] = ", ".join(parsing.split_words(data["aliases"]))
        health_set = any(data.get(f) not in (None, "") for f in ("health_interval", "health_timeout", "health_retries", "health_start_period"))
        if data.get("no_healthcheck") and (data.get("health_command") or health_set):
            self.add_error("no_healthcheck", "either disable the health check or describe one, not both")
        elif health_set and not data.get("health_command"):
            self.add_error("health_command", "give the command that checks the container's health")
        return data


def _absolute_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("must be an absolute path (starting with /)")
    return value


def _memory(value: str) -> int:
    size = parsing.parse_size(value)
    if size and size < 6 * 1024 * 1024:
        raise ValueError("the smallest memory limit is 6m")
    return size


def _health_duration(value: str) -> int:
    ns = parsing.parse_duration_ns(value)
    if 0 < ns < 1_000_000:
        raise ValueError("at least 1ms (or 0 for the default)")
    return ns


class RowForm(forms.Form):
    """A formset row: its inputs sit under column headers, so each gets its label as aria-label."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.widget.attrs.setdefault("aria-label", field.label or pretty_name(name))

    def has_changed(self) -> bool:
        """A row counts once something is typed or ticked in it; its selects (protocol, type) alone do not count."""
        return any(self[name].value() not in (None, "", False) for name, field in self.fields.items()
                   if not isinstance(field, forms.ChoiceField))


class NameValueRow(RowForm):
    """One row of env or labels: a name and a value; an empty row is ignored."""

    name = forms.CharField(max_length=255, required=False)
    value = forms.CharField(required=False, strip=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("value") and data.get("name") == "":
            self.add_error("name", "give the value a name")
        return data


class EnvRow(NameValueRow):
    def clean_name(self) -> str:
        return _parsed(self.cleaned_data.get("name", ""), parsing.check_env_name)


class PortRow(RowForm):
    """One published port: host address (empty: all), host port or range (empty: any), container port or range."""

    host_ip = forms.CharField(required=False, label="Host IP", widget=forms.TextInput(attrs={"placeholder": "all addresses"}))
    host_port = forms.CharField(required=False, label="Host port", widget=forms.TextInput(attrs={"placeholder": "any", "inputmode": "numeric"}))
    container_port = forms.CharField(required=False, label="Container port", widget=forms.TextInput(attrs={"placeholder": "80", "inputmode": "numeric"}))
    protocol = forms.ChoiceField(choices=PROTOCOL_CHOICES, initial="tcp", required=False)

    def clean_host_ip(self) -> str:
        return _parsed(self.cleaned_data.get("host_ip", ""), parsing.parse_host_ip).strip("[]")

    def clean_host_port(self) -> str:
        return _parsed(self.cleaned_data.get("host_port", ""), parsing.parse_port_range)

    def clean_container_port(self) -> str:
        port = _parsed(self.cleaned_data.get("container_port", ""), parsing.parse_port_range)
        if not port:
            raise forms.ValidationError("which port in the container?")
        return port

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["protocol"] = data.get("protocol") or "tcp"
        if data.get("container_port") and "host_port" in data:
            try:
                port_pairs(data["host_port"], data["container_port"])
            except ValueError as exc:
                self.add_error("host_port", str(exc))
        return data


class VolumeRow(RowForm):
    """One mount: a named volume (empty source: anonymous), a bind mount of a host path, or a tmpfs."""

    type = forms.ChoiceField(choices=VOLUME_CHOICES, initial="volume", required=False)
    source = forms.CharField(required=False, widget=forms.TextInput(attrs={"placeholder": "volume name or /host/path"}))
    target = forms.CharField(required=False, widget=forms.TextInput(attrs={"placeholder": "/data"}))
    read_only = forms.BooleanField(required=False, label="Read-only")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["type"] = data.get("type") or "volume"
        kind, source, target = data["type"], (data.get("source") or "").strip(), (data.get("target") or "").strip()
        if not target.startswith("/"):
            self.add_error("target", "an absolute path in the container, such as /data")
        if kind == "bind" and not source.startswith("/"):
            self.add_error("source", "a bind mount needs an absolute host path")
        elif kind == "tmpfs" and source:
            self.add_error("source", "a tmpfs has no source")
        elif kind == "volume" and source and not parsing.NAME_RE.match(source):
            self.add_error("source", "volume names use letters, digits, '_', '.' and '-'")
        data["source"], data["target"] = source, posixpath.normpath(target) if target.startswith("/") else target
        return data


class RowFormSet(forms.BaseFormSet):
    """Rows left empty are ignored (prefilled ones too, so clearing a row removes it); `rows()` gives the filled ones."""

    def _construct_form(self, i: int, **kwargs: Any) -> forms.Form:
        kwargs["empty_permitted"] = True
        return super()._construct_form(i, **kwargs)

    def rows(self) -> list[dict[str, Any]]:
        return [form.cleaned_data for form in self.forms if form.has_changed() and form.cleaned_data]


class VolumeFormSet(RowFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        targets = [row["target"] for row in self.rows()]
        twice = sorted({t for t in targets if targets.count(t) > 1})
        if twice:
            raise forms.ValidationError(f"more than one mount on {', '.join(twice)}")


ROW_FORMSETS: dict[str, type[forms.BaseFormSet]] = {
    "env": forms.formset_factory(EnvRow, formset=RowFormSet, extra=1),
    "ports": forms.formset_factory(PortRow, formset=RowFormSet, extra=1),
    "volumes": forms.formset_factory(VolumeRow, formset=VolumeFormSet, extra=1),
    "labels": forms.formset_factory(NameValueRow, formset=RowFormSet, extra=1),
}
ROW_FIELDS = {"env": ("name", "value"), "ports": ("host_ip", "host_port", "container_port", "protocol"),
              "volumes": ("type", "source", "target", "read_only"), "labels": ("name", "value")}
