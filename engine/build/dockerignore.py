"""`.dockerignore` patterns with Docker's rules (pure).

Each line is a pattern, cleaned like a path (a leading `/` and `./` dropped);
`*` and `?` never cross `/`, `**` crosses any number of directories, `!` makes an
exception, and the last pattern that matches a path decides. A path is also
excluded when one of its parent directories is.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern[str]
    exclusion: bool
    text: str


def _translate(pattern: str) -> str:
    out = ["^"]
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if pattern[i:i + 2] == "**":
                i += 2
                if pattern[i:i + 1] == "/":
                    out.append("(?:.*/)?")
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1:end]
                if body.startswith(("!", "^")):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    return "".join(out)


def parse(text: str) -> list[Pattern]:
    patterns = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        line = posixpath.normpath(line).lstrip("/")
        if line in ("", "."):
            continue
        patterns.append(Pattern(re.compile(_translate(line)), exclusion, line))
    return patterns


def ignored(path: str, patterns: list[Pattern]) -> bool:
    """Whether `path` (relative, `/`-separated) is left out of the build context."""
    if not patterns:
        return False
    candidates = [path]
    parent = posixpath.dirname(path)
    while parent:
        candidates.append(parent)
        parent = posixpath.dirname(parent)
    result = False
    for p in patterns:
        if any(p.regex.match(c) for c in candidates):
            result = not p.exclusion
    return result
