"""`SpecForms`: the container form and its row formsets bound together — the one validator of a spec.

The create page binds it to POST data, the REST API to a JSON spec
(`SpecForms.from_spec`); both then read `spec()` (the validated spec, as the
person wrote it; see console/containers/specs.py) or `field_errors()` (errors
shaped like the spec). `add_engine_error()` puts an engine's refusal on the field
it is about (`engine_error_field`).
"""

from __future__ import annotations

from typing import Any

from django import forms

from console.containers.forms import ROW_FIELDS, ROW_FORMSETS, ContainerForm
from console.containers.specs import Spec

# Engine messages → the field they are about, first match wins (Docker's and Berth's wording).
ENGINE_ERROR_FIELDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("no such image", "pull access denied", "manifest unknown", "repository does not exist", "invalid reference format",
      "not found: manifest"), "image"),
    (("is already in use by container", "container name"), "name"),
    (("port is already allocated", "address already in use", "bind for", "port "), "ports"),
    (("alias",), "aliases"),
    (("network",), "network"),
    (("mount", "volume", "bind source", "tmpfs"), "volumes"),
    (("memory",), "memory"),
    (("cpu shares", "cpushares"), "cpu_shares"),
    (("nanocpus", "cpus", "cpu"), "cpus"),
    (("blkio",), "blkio_weight"),
    (("pids",), "pids_limit"),
    (("restart",), "restart_policy"),
    (("health",), "health_command"),
    (("working dir", "workingdir", "chdir"), "working_dir"),
    (("unable to find user", "user "), "user"),
    (("executable file not found", "exec:", "no such file or directory", "permission denied"), "command"),
)


def engine_error_field(message: str) -> str | None:
    """The spec field an engine error is about ("name", "ports", …), or None for the form as a whole."""
    text = message.lower()
    for words, field in ENGINE_ERROR_FIELDS:
        if any(w in text for w in words):
            return field
    return None


class SpecForms:
    """The container form and its row formsets, bound together; the one validator of a spec.

    Lifecycle: make it unbound (`SpecForms(initial_spec=spec)`, to prefill a page),
    bound to a POST (`SpecForms(data=request.POST)`) or bound to a JSON spec
    (`SpecForms.from_spec(spec)`); `is_valid()`; then `spec()` or `field_errors()`.
    `add_engine_error(message)` attaches an engine's refusal to the field it is about.
    """

    def __init__(self, data: Any = None, initial_spec: Spec | None = None) -> None:
        initial_spec = initial_spec or {}
        scalar_initial = {k: v for k, v in initial_spec.items() if k not in ROW_FORMSETS}
        self.form = ContainerForm(data=data, initial=scalar_initial or None)
        self.rows = {key: formset(data=data, prefix=key, initial=initial_spec.get(key) or None)
                     for key, formset in ROW_FORMSETS.items()}
        self.section_errors: dict[str, list[str]] = {}
        self.engine_message = ""  # the engine's refusal, when it refused a valid spec

    @classmethod
    def from_spec(cls, spec: Spec) -> SpecForms:
        """Bound to a spec given as JSON (the API): rows become formset data, booleans checkboxes."""
        return cls(data=spec_to_data(spec))

    def is_valid(self) -> bool:
        valid = self.form.is_valid()
        for formset in self.rows.values():
            valid = formset.is_valid() and valid
        return valid

    def spec(self) -> Spec:
        """The validated spec; only after is_valid() returned True."""
        data = dict(self.form.cleaned_data)
        for key, formset in self.rows.items():
            data[key] = [{f: row.get(f) for f in ROW_FIELDS[key]} for row in formset.rows()]  # type: ignore[attr-defined]
        return data

    def add_engine_error(self, message: str) -> str | None:
        """Show the engine's `message` on the field it concerns; returns that field (None: the whole form)."""
        self.engine_message = message
        field = engine_error_field(message)
        if field in self.rows:
            self.section_errors.setdefault(field, []).append(message)
        else:
            self.form.add_error(field, message)
        return field

    def field_errors(self) -> dict[str, Any]:
        """Errors shaped like the spec: {"memory": [...], "ports": [{}, {"host_port": [...]}], "__all__": [...]}."""
        errors: dict[str, Any] = {k: list(v) for k, v in self.form.errors.items()}
        for key, formset in self.rows.items():
            if not formset.is_bound:
                continue
            row_errors = [dict(e) for e in formset.errors] if any(formset.errors) else []
            section = [*formset.non_form_errors(), *self.section_errors.get(key, [])]
            if row_errors:
                errors[key] = [{f: list(m) for f, m in e.items()} for e in row_errors]
            if section:
                errors.setdefault(f"{key}_errors", []).extend(section)
        return errors


def spec_to_data(spec: Spec) -> dict[str, str]:
    """Form data (as a browser would post it) for a spec given as JSON; unknown keys are left out.

    Raises ValueError when a row section is not a list of objects.
    """
    data: dict[str, str] = {}
    for name, field in ContainerForm.base_fields.items():
        value = spec.get(name)
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = str(value)
    for key in ROW_FORMSETS:
        rows = spec.get(key) or []
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ValueError(f"{key} must be a list of objects")
        data[f"{key}-TOTAL_FORMS"], data[f"{key}-INITIAL_FORMS"] = str(len(rows)), "0"
        for i, row in enumerate(rows):
            for f in ROW_FIELDS[key]:
                value = row.get(f)
                if isinstance(value, bool):
                    if value:
                        data[f"{key}-{i}-{f}"] = "on"
                elif value is not None:
                    data[f"{key}-{i}-{f}"] = str(value)
    return data
