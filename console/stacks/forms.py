"""The stack form (create, edit/redeploy, adopt, from a template) with server-side validation: the name,
the compose text (typed or uploaded) loaded for real — every problem with its line — the variables
(key/value rows, posted as var_name/var_value lists) and the env file."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from console.endpoints.models import Endpoint
from console.stacks import service
from console.stacks.compose import ComposeError
from console.stacks.models import Stack

VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_UPLOAD = service.MAX_COMPOSE_CHARS


def rows_from(data: Any) -> list[tuple[str, str]]:
    """The variable rows of a POST (empty rows dropped)."""
    names, values = data.getlist("var_name"), data.getlist("var_value")
    return [(n.strip(), v) for n, v in zip(names, values) if n.strip() or v]


class StackForm(forms.Form):
    name = forms.CharField(max_length=63, help_text="Lower-case letters, digits, - and _. It starts the name of every "
                                                    "container, network and volume of the stack.",
                           widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
    compose = forms.CharField(required=False, strip=False, label="Compose file",
                              widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false", "autocomplete": "off",
                                                           "autocapitalize": "off", "class": "input mono code-input",
                                                           "data-stack-editor": ""}))
    upload = forms.FileField(required=False, label="Or upload a compose file",
                             help_text="docker-compose.yml; it replaces the text above.")
    env_file = forms.CharField(required=False, strip=False, label="Env file",
                               help_text="NAME=value lines, as in a .env file. The variables above override it. "
                                         "Services read both with env_file: stack.env.",
                               widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "class": "input mono"}))

    def __init__(self, *args: Any, endpoint: Endpoint, stack: Stack | None = None, rows: list[tuple[str, str]] | None = None,
                 working_dir: str = "", config_files: tuple[str, ...] = (), engine_names: set[str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.endpoint, self.stack = endpoint, stack
        self.rows = rows if rows is not None else list((stack.variables or {}).items()) if stack else []
        self.working_dir, self.config_files = working_dir, config_files
        self.engine_names = engine_names or set()
        self.problems: list[dict[str, object]] = []
        self.row_errors: list[str] = []
        if stack is not None:
            self.fields["name"].disabled = True
            self.fields["name"].help_text = "A stack's name cannot change (it names its containers)."
        for field in ("name", "env_file"):
            self.fields[field].widget.attrs.setdefault("class", "input mono")

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip() if self.stack is None else self.stack.name
        if self.stack is None:
            problem = service.name_problem(name)
            if problem:
                raise forms.ValidationError(problem)
            if Stack.objects.filter(endpoint=self.endpoint, name=name).exists():
                raise forms.ValidationError("A stack with this name already exists on this endpoint.")
            if name in self.engine_names:
                raise forms.ValidationError("A compose project with this name already runs on this endpoint: adopt "
                                            "it from the stacks list instead.")
        return name

    def clean_upload(self) -> str | None:
        upload = self.cleaned_data.get("upload")
        if not upload:
            return None
        if upload.size > MAX_UPLOAD:
            raise forms.ValidationError(f"The file is larger than {MAX_UPLOAD // 1024} KiB.")
        try:
            return upload.read().decode("utf-8")
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text.") from None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        text = data.get("upload") or data.get("compose") or ""
        data["compose"] = text
        self.row_errors = [f"'{n}' is not a variable name (letters, digits and _, not starting with a digit)"
                           for n, _ in self.rows if not VAR_RE.match(n)]
        if self.row_errors:
            self.add_error(None, "Some variable names are not valid.")
        if not text.strip():
            self.add_error("compose", "Write, paste or upload a compose file.")
            return data
        if "name" not in data or self.row_errors:
            return data
        source = service.Source(data["name"], text, dict(self.rows), data.get("env_file", ""), self.working_dir,
                                self.config_files)
        try:
            data["loaded"] = service.load(source, home=self.endpoint)
        except ComposeError as exc:
            self.problems = service.problems_of(exc)
            self.add_error("compose", f"The compose file has {len(exc.problems)} problem"
                                      f"{'s' if len(exc.problems) != 1 else ''}; see the list below.")
        return data

    @property
    def variables(self) -> dict[str, str]:
        return dict(self.rows)
