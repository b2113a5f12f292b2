"""The Dockerfile parser (pure): text in, instructions with their line numbers out.

Follows Docker's rules: parser directives (`# escape=`) only at the very top,
comment lines dropped (even inside a continuation), the escape character at the
end of a line continues it, the keyword is case-insensitive, `--flag=value`
options on FROM/COPY/ADD/RUN/HEALTHCHECK, and the JSON (exec) form recognised
only when the arguments parse as a JSON array of strings.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from engine.errors import InvalidArgument

KNOWN = {
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
}
_DIRECTIVE_RE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_FLAG_RE = re.compile(r"^--([a-zA-Z][a-zA-Z0-9-]*)(?:=(.*))?$")
FLAGS = {
    "FROM": {"platform"}, "COPY": {"from", "chown", "chmod", "link"}, "ADD": {"chown", "chmod", "link", "checksum", "keep-git-dir"},
    "RUN": {"mount", "network", "security"}, "HEALTHCHECK": {"interval", "timeout", "start-period", "start-interval", "retries"},
}


class DockerfileError(InvalidArgument):
    """A Dockerfile Docker would refuse to parse."""


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    args: str  # the rest of the line after flags, unexpanded
    line: int  # 1-based line where the instruction starts
    original: str  # the instruction as written (joined continuation lines)
    flags: dict[str, str] = field(default_factory=dict)
    json_args: tuple[str, ...] | None = None  # exec form, when the args are a JSON array

    @property
    def shown(self) -> str:
        """What `Step N/M :` prints."""
        return self.original


@dataclass(frozen=True)
class Dockerfile:
    instructions: tuple[Instruction, ...]
    escape: str = "\\"


def _json_array(text: str) -> tuple[str, ...] | None:
    text = text.strip()
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _split_flags(keyword: str, rest: str, line: int) -> tuple[dict[str, str], str]:
    flags: dict[str, str] = {}
    allowed = FLAGS.get(keyword, set())
    while rest.startswith("--"):
        word, _, remainder = rest.partition(" ")
        m = _FLAG_RE.match(word)
        if not m:
            break
        name, value = m.group(1), m.group(2)
        if keyword == "HEALTHCHECK" or name in allowed:
            if value is None:
                if name == "link":
                    value = "true"
                else:
                    raise DockerfileError(f"Dockerfile parse error line {line}: Missing a value on flag : --{name}")
            flags[name] = value
            rest = remainder.lstrip()
            continue
        raise DockerfileError(f"Dockerfile parse error line {line}: Unknown flag: {name}")
    return flags, rest


def parse(text: str) -> Dockerfile:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    escape = "\\"
    index = 0
    # directives: only a prefix of comment lines of the form `# key=value`
    while index < len(lines):
        m = _DIRECTIVE_RE.match(lines[index].strip())
        if not m:
            break
        key, value = m.group(1).lower(), m.group(2)
        if key == "escape":
            if value not in ("\\", "`"):
                raise DockerfileError(f"invalid ESCAPE '{value}'. Must be ` or \\")
            escape = value
        elif key != "syntax":
            break
        index += 1
    instructions: list[Instruction] = []
    pending: list[str] = []
    start_line = 0
    while index < len(lines):
        raw = lines[index]
        index += 1
        stripped = raw.strip()
        if not pending:
            if not stripped or stripped.startswith("#"):
                continue
            start_line = index
        elif stripped.startswith("#") or not stripped:
            continue  # comments and blank lines inside a continuation are dropped
        body = raw.rstrip()
        if body.endswith(escape):
            pending.append(body[: -len(escape)].lstrip() if pending else body[: -len(escape)].strip())
            if index < len(lines):
                continue
            body = ""
        joined = " ".join(p for p in [*pending, body.strip()] if p) if pending else body.strip()
        pending = []
        if not joined:
            continue
        instructions.append(_instruction(joined, start_line))
    if pending:
        joined = " ".join(p for p in pending if p)
        if joined:
            instructions.append(_instruction(joined, start_line))
    return Dockerfile(tuple(instructions), escape)


def _instruction(text: str, line: int) -> Instruction:
    keyword, _, rest = text.partition(" ")
    upper = keyword.upper()
    if upper not in KNOWN:
        raise DockerfileError(f"Dockerfile parse error line {line}: unknown instruction: {keyword.upper()}")
    rest = rest.strip()
    flags, rest = _split_flags(upper, rest, line)
    json_args = _json_array(rest) if upper in ("RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME") else None
    return Instruction(upper, rest, line, text, flags, json_args)
