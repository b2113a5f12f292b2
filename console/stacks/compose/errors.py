"""Problems found in a compose file, each with where it is (a line and a path), and the one error type
that carries them.

A `Problem` is what a person reads: "line 14: services.app.depends_on: service 'dbx' is not defined".
Every stage (YAML, interpolation, schema, normalisation, dependency graph) reports all the problems it
can find at once in a `ComposeError`, so the editor can mark every line in one go.
"""

from __future__ import annotations

from dataclasses import dataclass

Path = tuple[str | int, ...]


def path_text(path: Path) -> str:
    """("services", "app", "ports", 0) → "services.app.ports[0]"."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or, as a warning, doubtful) in a compose file. `line`/`column` are 1-based."""

    message: str
    line: int | None = None
    path: str = ""
    column: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        what = f"{self.path}: " if self.path else ""
        return f"{where}{what}{self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "column": self.column, "path": self.path, "message": self.message, "text": str(self)}


class ComposeError(Exception):
    """A compose file (or its variables) that cannot be deployed; `problems` says why, line by line."""

    def __init__(self, problems: list[Problem]) -> None:
        ordered = sorted(problems, key=lambda p: (p.line or 0, p.path, p.message))
        super().__init__("; ".join(str(p) for p in ordered))
        self.problems = ordered
