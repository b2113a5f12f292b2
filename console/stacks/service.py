"""A stack's compose text and variables → a loaded Project, and the checks every door (page, API, job) shares.

`Source` is what is loaded: text, variables (rows), env file text, and for adopted stacks the project's
directory on the console's host. env_file entries are read from:
    stack.env (or .env)   the stack's own variables (env file entries, then the rows) — for every stack
    any other path        the project's directory (adopted stacks whose directory is readable here)
The variable COMPOSE_PROFILES (comma-separated) enables profiles, as it does for docker-compose.
Relative bind mounts and `build:` contexts resolve against that directory too; a stack written in the
console has none, so `build:` works only when its image already exists on the endpoint (or when adopted).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from console.endpoints.models import Endpoint
from console.endpoints.placement import EXTENSION, PlacementError, resolve_placement
from console.stacks.compose import ComposeError, Loaded, LoadOptions, Problem, envfile, load_project
from console.stacks.compose.model import Project, Service, project_name
from console.stacks.models import Stack

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
STACK_ENV_NAMES = ("stack.env", ".env", "./stack.env", "./.env")
MAX_COMPOSE_CHARS = 512 * 1024


@dataclass(frozen=True)
class Source:
    name: str
    text: str
    variables: Mapping[str, str] = field(default_factory=dict)
    env_file: str = ""
    working_dir: str = ""
    config_files: tuple[str, ...] = ()


def name_problem(name: str) -> str:
    """Why `name` cannot be a stack's (compose project's) name; "" when it can."""
    if not NAME_RE.match(name):
        return ("Use lower-case letters, digits, - and _ (starting with a letter or digit, at most 63): it starts "
                "every container's and network's name.")
    if project_name(name) != name:
        return "This name would change when docker-compose normalises it."
    return ""


def all_variables(source: Source) -> dict[str, str]:
    """The env file's entries, then the rows (rows win); ComposeError for a bad env file line."""
    merged = envfile.variables(source.env_file, "the env file") if source.env_file.strip() else {}
    merged.update({k: str(v) for k, v in source.variables.items()})
    return merged


def _stack_env_text(variables: Mapping[str, str]) -> str:
    return "".join(f"{k}={_quoted(v)}\n" for k, v in variables.items())


def _quoted(value: str) -> str:
    return "'" + value + "'" if "'" not in value and "\n" not in value else '"' + value.replace("\\", "\\\\").replace(
        '"', '\\"').replace("\n", "\\n") + '"'


def _reader(source: Source, variables: Mapping[str, str]):  # type: ignore[no-untyped-def]
    def read(path: str) -> str:
        if path in STACK_ENV_NAMES:
            return _stack_env_text(variables)
        if not source.working_dir:
            raise OSError("a stack written in the console has only stack.env (its variables)")
        base = Path(source.working_dir).resolve()
        full = (base / path).resolve()
        if not full.is_relative_to(base):
            raise OSError("an env_file must be inside the project's directory")
        return full.read_text()
    return read


def load(source: Source, home: Endpoint | None = None) -> Loaded:
    """The Project of `source`; ComposeError (line-numbered problems) when it cannot be deployed.

    With `home` (the stack's endpoint), each service's endpoint wish is resolved too (see `placement`),
    so a file naming an unknown endpoint is refused before any engine is asked anything.
    """
    if len(source.text) > MAX_COMPOSE_CHARS:
        raise ComposeError([Problem(f"the compose file is larger than {MAX_COMPOSE_CHARS // 1024} KiB")])
    variables = all_variables(source)
    profiles = tuple(p.strip() for p in variables.get("COMPOSE_PROFILES", "").split(",") if p.strip())
    loaded = load_project(source.text, LoadOptions(source.name, variables, _reader(source, variables), profiles,
                                                   source.working_dir, source.config_files))
    if home is not None:
        placement(loaded.project, home)
    return loaded


def placement(project: Project, home: Endpoint) -> dict[str, Endpoint]:
    """service name → the Endpoint it runs on (console/endpoints/placement.py); ComposeError whose problems
    carry the line of each wish that cannot be met."""
    try:
        return resolve_placement({s.name: s.placement for s in project.services}, home)
    except PlacementError as exc:
        lines = {s.name: s.placement_line for s in project.services}
        raise ComposeError([Problem(p.message, lines.get(p.service), f"services.{p.service}.{EXTENSION}")
                            for p in exc.problems]) from None


def source_of(stack: Stack) -> Source:
    return Source(stack.name, stack.compose, dict(stack.variables or {}), stack.env_file, stack.working_dir,
                  tuple(stack.config_files or ()))


def build_dir(working_dir: str, service: Service) -> str | None:
    """The directory to build `service` from: its context under the project's directory, if readable here."""
    if service.build is None or not working_dir:
        return None
    context = service.build.context
    full = context if os.path.isabs(context) else os.path.normpath(os.path.join(working_dir, context))
    return full if os.path.isdir(full) and os.access(full, os.R_OK) else None


def problems_of(exc: ComposeError) -> list[dict[str, object]]:
    return [p.as_dict() for p in exc.problems]
