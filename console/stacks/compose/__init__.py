"""The console's compose implementation: load a compose file into a Project, plan it against what runs on
an engine, apply the plan through the Docker Engine API only (so Berth and Docker endpoints alike).

    load_project(text, LoadOptions(...)) → Loaded(project, warnings)     pure; ComposeError, line-numbered
    plan.plan_up(project, running)      → Plan                           pure (config-hash diff)
    apply.up / stop / start / down      effects on an engine (console/stacks/compose/apply.py)

Modules: yamlload (YAML with lines), interpolate (${VAR}), envfile (.env files), schema (the Compose
Specification's JSON schema), values (short syntaxes), normalize (data → model), model (the Project),
spec (Service → the engine's create body and config hash), plan, apply.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from console.stacks.compose import interpolate, schema, yamlload
from console.stacks.compose.errors import ComposeError, Problem
from console.stacks.compose.model import Project
from console.stacks.compose.normalize import Options, normalise


def _no_files(path: str) -> str:
    raise OSError("this stack has no files beside its compose file (use env_file: stack.env for its variables)")


@dataclass(frozen=True)
class LoadOptions:
    """How to load: the project's name, its variables (for ${VAR} and bare environment names), where
    env_file paths are read from, which profiles are enabled, and the labels' working_dir/config_files."""

    name: str
    variables: Mapping[str, str] = field(default_factory=dict)
    read_env_file: Callable[[str], str] = _no_files
    profiles: tuple[str, ...] = ()
    working_dir: str = ""
    config_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Loaded:
    project: Project
    warnings: list[Problem]


def load_project(text: str, options: LoadOptions) -> Loaded:
    """YAML → interpolation → schema → normalisation; ComposeError (every problem of the first failing stage)."""
    loaded = yamlload.load(text)
    result = interpolate.interpolate(loaded.data, options.variables, loaded.line_of)
    schema.validate(result.data, loaded.line_of)
    project = normalise(result.data, Options(options.name, options.variables, options.read_env_file, options.profiles,
                                             options.working_dir, options.config_files), loaded.line_of)
    return Loaded(project, result.warnings)


__all__ = ["ComposeError", "LoadOptions", "Loaded", "Problem", "load_project"]
