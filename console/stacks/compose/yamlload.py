"""YAML text → plain data, with the line of every key and list item (PyYAML's node marks).

`load(text)` returns a `Loaded`: `data` (dicts, lists, str, int, float, bool, None — as yaml.safe_load
would give, except that dates stay the text they were written as and keys are strings) and `lines`,
which maps a path such as ("services", "app", "ports", 0) to the 1-based line where that entry starts
(for a mapping entry: its key's line). `line_of(path)` falls back to the nearest ancestor.

Refused with a line-numbered `ComposeError`: text that is not YAML, a document that is not a mapping,
a key given twice in one mapping, more than one document, and documents that expand beyond
MAX_NODES (alias bombs) or nest deeper than MAX_DEPTH.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from console.stacks.compose.errors import ComposeError, Path, Problem, path_text

MAX_NODES = 200_000
MAX_DEPTH = 64
TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


@dataclass
class Loaded:
    data: dict[str, Any]
    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())


class _Builder:
    """Turns a composed node tree into data while recording lines (a node may be reached twice via aliases)."""

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.lines: dict[Path, int] = {}
        self.problems: list[Problem] = []
        self.count = 0

    def build(self, node: Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise ComposeError([Problem(f"the document expands to more than {MAX_NODES} values (too many aliases?)",
                                        node.start_mark.line + 1)])
        if len(path) > MAX_DEPTH:
            raise ComposeError([Problem(f"nested more than {MAX_DEPTH} levels deep", node.start_mark.line + 1,
                                        path_text(path))])
        if isinstance(node, ScalarNode):
            if node.tag == TIMESTAMP_TAG:
                return node.value
            return self.loader.construct_object(node, deep=True)
        if isinstance(node, SequenceNode):
            out = []
            for i, child in enumerate(node.value):
                self.lines.setdefault(path + (i,), child.start_mark.line + 1)
                out.append(self.build(child, path + (i,)))
            return out
        if isinstance(node, MappingNode):
            return self.mapping(node, path)
        raise ComposeError([Problem(f"unexpected YAML node {node.tag}", node.start_mark.line + 1, path_text(path))])

    def mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        self.duplicates(node, path)
        self.loader.flatten_mapping(node)  # merge keys (<<: *anchor); the node's own keys win
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.problems.append(Problem("a key must be a plain value, not a list or a mapping",
                                             key_node.start_mark.line + 1, path_text(path)))
                continue
            key = str(self.build(key_node, path))
            self.lines.setdefault(path + (key,), key_node.start_mark.line + 1)
            out[key] = self.build(value_node, path + (key,))
        return out

    def duplicates(self, node: MappingNode, path: Path) -> None:
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            line = key_node.start_mark.line + 1
            if key_node.value in seen:
                self.problems.append(Problem(f"'{key_node.value}' is given twice in this mapping (first on line "
                                             f"{seen[key_node.value]})", line, path_text(path + (key_node.value,))))
            else:
                seen[key_node.value] = line


def _yaml_problem(exc: yaml.YAMLError) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"not valid YAML: {problem}" + (f" ({context})" if context else "")
    if mark is None:
        return Problem(message)
    return Problem(message, mark.line + 1, column=mark.column + 1)


def load(text: str) -> Loaded:
    """Parse `text` (see the module doc); ComposeError with every problem found."""
    if not text.strip():
        raise ComposeError([Problem("the compose file is empty", 1)])
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise ComposeError([Problem("the compose file has no content (only comments?)", 1)])
        if not isinstance(root, MappingNode):
            raise ComposeError([Problem("the top level must be a mapping (services:, volumes:, …)",
                                        root.start_mark.line + 1)])
        builder = _Builder(loader)
        data = builder.build(root, ())
        builder.lines[()] = root.start_mark.line + 1
    except yaml.YAMLError as exc:
        raise ComposeError([_yaml_problem(exc)]) from None
    except RecursionError:
        raise ComposeError([Problem("the document refers to itself (a recursive alias)")]) from None
    finally:
        loader.dispose()
    if builder.problems:
        raise ComposeError(builder.problems)
    return Loaded(data, builder.lines)
