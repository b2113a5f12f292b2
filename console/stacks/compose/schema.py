"""Validation against the Compose Specification's JSON schema (compose_spec.json, vendored from Debian's
docker-compose 1.29.2), with each violation put on the line of the value (or key) at fault.

jsonschema's words are kept where they are clear; the common cases get plainer ones: an unknown key
("'bogus' is not allowed in services.app"), a wrong type ("must be a string"), and for `oneOf` choices
(short or long syntax) the most specific reason from inside the choice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path as FilePath
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from console.stacks.compose.errors import ComposeError, Path, Problem, path_text

SCHEMA_FILE = FilePath(__file__).with_name("compose_spec.json")
TYPE_WORDS = {"string": "a string", "object": "a mapping", "array": "a list", "integer": "a whole number",
              "number": "a number", "boolean": "true or false", "null": "empty"}


@cache
def validator() -> jsonschema.Draft7Validator:
    """One validator for the process (the schema names a draft URL jsonschema does not know: use Draft 7)."""
    schema = json.loads(SCHEMA_FILE.read_text())
    schema.pop("$schema", None)
    return jsonschema.Draft7Validator(schema)


def _types(value: Any) -> str:
    names = [value] if isinstance(value, str) else list(value or [])
    return " or ".join(TYPE_WORDS.get(n, n) for n in names)


def _closest(errors: list[ValidationError]) -> ValidationError:
    """Of a choice's errors, one from an alternative the value's type fits (a mapping given where a list or a
    mapping may be: the mapping's own mistake), else the most relevant."""
    misfits = {e.schema_path[0] for e in errors if e.validator == "type" and not e.relative_path}
    fitting = [e for e in errors if e.schema_path and e.schema_path[0] not in misfits]
    return best_match(fitting or errors)


def _problem(error: ValidationError, line_of: Callable[[Path], int | None]) -> list[Problem]:
    path: Path = tuple(error.absolute_path)
    if error.validator in ("oneOf", "anyOf") and error.context:
        return _problem(_closest(error.context), line_of)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set((error.schema.get("properties") or {}).keys())
        patterns = list((error.schema.get("patternProperties") or {}).keys())
        extra = [k for k in error.instance if k not in allowed and not any(re.search(p, k) for p in patterns)]
        where = path_text(path) or "the top level"
        return [Problem(f"'{key}' is not allowed in {where}", line_of(path + (key,)), path_text(path + (key,)))
                for key in extra] or [Problem(error.message, line_of(path), path_text(path))]
    if error.validator == "type":
        return [Problem(f"must be {_types(error.validator_value)}", line_of(path), path_text(path))]
    if error.validator == "required":
        return [Problem(error.message.replace("is a required property", "is required"), line_of(path), path_text(path))]
    return [Problem(error.message, line_of(path), path_text(path))]


def validate(data: dict[str, Any], line_of: Callable[[Path], int | None]) -> None:
    """ComposeError with every schema violation in `data`, each on its line; nothing when it conforms."""
    problems: list[Problem] = []
    for error in validator().iter_errors(data):
        problems.extend(_problem(error, line_of))
    if problems:
        unique = list(dict.fromkeys(problems))
        raise ComposeError(unique)
