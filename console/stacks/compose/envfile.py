"""`.env`-style files (the stack's variables, a service's env_file), parsed as python-dotenv does (pure).

    # a comment                 blank lines and comments are skipped
    NAME=value                  unquoted: trimmed; " #" starts a comment
    export NAME=value           "export " is allowed and ignored
    NAME='single quoted'        taken literally
    NAME="double quoted\\n"      \\n \\t \\" \\\\ escapes
    NAME                        a name alone: no value (None) — for env_file, "take it from the variables"

No variable expansion happens inside these files. `parse()` returns the entries in order (a later
line wins) or a ComposeError naming each bad line, prefixed with the file's name.
"""

from __future__ import annotations

import re

from console.stacks.compose.errors import ComposeError, Problem

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def _double_quoted(body: str) -> str | None:
    """The value of a double-quoted string starting after its quote, or None when it does not close."""
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(ESCAPES.get(body[i + 1], "\\" + body[i + 1]))
            i += 2
            continue
        if ch == '"':
            return "".join(out) if not body[i + 1:].strip() or body[i + 1:].lstrip().startswith("#") else None
        out.append(ch)
        i += 1
    return None


def _value(raw: str) -> str | None:
    raw = raw.strip()
    if raw.startswith("'"):
        end = raw.find("'", 1)
        return raw[1:end] if end > 0 else None
    if raw.startswith('"'):
        return _double_quoted(raw[1:])
    return re.split(r"\s+#", raw, maxsplit=1)[0].strip()


def parse(text: str, source: str = "the variables") -> dict[str, str | None]:
    """NAME → value (None for a bare NAME); ComposeError with every bad line."""
    out: dict[str, str | None] = {}
    problems: list[Problem] = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export "):
            stripped = stripped[len("export "):].lstrip()
        name, eq, raw = stripped.partition("=")
        name = name.strip()
        if not NAME_RE.match(name):
            problems.append(Problem(f"{source}: '{name or stripped}' is not a variable name (write NAME=value)", number))
            continue
        if not eq:
            out[name] = None
            continue
        value = _value(raw)
        if value is None:
            problems.append(Problem(f"{source}: the quote of {name}'s value is not closed", number))
            continue
        out[name] = value
    if problems:
        raise ComposeError(problems)
    return out


def variables(text: str, source: str = "the variables") -> dict[str, str]:
    """Like parse(), for interpolation variables: a bare NAME is an error (it has no value to give)."""
    entries = parse(text, source)
    bare = [name for name, value in entries.items() if value is None]
    if bare:
        lines = {n: i for i, raw in enumerate(text.splitlines(), 1) for n in bare if raw.strip().removeprefix("export ").strip() == n}
        raise ComposeError([Problem(f"{source}: {name} has no value (write {name}=value)", lines.get(name)) for name in bare])
    return {k: v for k, v in entries.items() if v is not None}
