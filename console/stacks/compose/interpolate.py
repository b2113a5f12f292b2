"""Variable interpolation in compose values, as docker-compose does it (pure).

Every string value (never a key) is expanded against `variables`:

    $VAR, ${VAR}        the value; unset → "" and a warning
    ${VAR:-default}     default when VAR is unset or empty     ${VAR-default}  default when VAR is unset
    ${VAR:?message}     an error when VAR is unset or empty    ${VAR?message}  an error when VAR is unset
    $$                  a literal $

A default may itself hold $VAR or ${VAR} (it is expanded too). A `$` followed by anything else, or
an unclosed `${`, is an "invalid interpolation format" error. `interpolate()` reports every problem of
the file at once, each with its line (from yamlload's `lines`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from console.stacks.compose.errors import ComposeError, Path, Problem, path_text

NAME = r"[_a-zA-Z][_a-zA-Z0-9]*"
PATTERN = re.compile(rf"\$(?:(?P<escaped>\$)|(?P<named>{NAME})|\{{(?P<braced>{NAME})(?:(?P<sep>:?[-?])(?P<arg>[^}}]*))?\}}"
                     r"|(?P<invalid>))")


class _Invalid(Exception):
    pass


class _Required(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(name)
        self.name, self.message = name, message


@dataclass
class Result:
    data: Any
    warnings: list[Problem]


def expand(text: str, variables: Mapping[str, str], unset: Callable[[str], None] | None = None) -> str:
    """`text` with its variables substituted; raises _Invalid / _Required (see interpolate for the words)."""

    def substitute(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        if match.group("invalid") is not None:
            raise _Invalid()
        name = match.group("named") or match.group("braced")
        sep, arg = match.group("sep"), match.group("arg") or ""
        value = variables.get(name)
        if sep in (":-", "-"):
            missing = value is None or (sep == ":-" and value == "")
            return expand(arg, variables, unset) if missing else str(value)
        if sep in (":?", "?"):
            if value is None or (sep == ":?" and value == ""):
                raise _Required(name, arg)
            return str(value)
        if value is None:
            if unset is not None:
                unset(name)
            return ""
        return str(value)

    return PATTERN.sub(substitute, text)


def interpolate(data: Any, variables: Mapping[str, str], line_of: Callable[[Path], int | None]) -> Result:
    """Expand every string value in `data` (a new structure is returned); ComposeError lists every error."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    warned: set[str] = set()

    def walk(value: Any, path: Path) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, path + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, path + (i,)) for i, v in enumerate(value)]
        if not isinstance(value, str) or "$" not in value:
            return value

        def unset(name: str) -> None:
            if name not in warned:
                warned.add(name)
                warnings.append(Problem(f"the variable {name} is not set; it stands for an empty string", line_of(path),
                                        path_text(path)))

        try:
            return expand(value, variables, unset)
        except _Invalid:
            problems.append(Problem(f'invalid interpolation format "{value}" (write $$ for a literal $)', line_of(path),
                                    path_text(path)))
        except _Required as exc:
            detail = f": {exc.message}" if exc.message else ""
            problems.append(Problem(f"required variable {exc.name} is missing a value{detail}", line_of(path),
                                    path_text(path)))
        return value

    out = walk(data, ())
    if problems:
        raise ComposeError(problems)
    return Result(out, warnings)
