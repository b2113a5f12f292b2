"""Memory of engine processes, read from /proc.

PSS (proportional set size, /proc/<pid>/smaps_rollup) is the figure compared: it
splits shared pages among the processes that map them, so a hundred conmons or
shims sharing one binary are not counted a hundred times. RSS is kept alongside
for the JSON results. A process that is gone by the time it is read counts zero.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Usage:
    """Memory of a group of processes, in kB."""

    pss_kb: int = 0
    rss_kb: int = 0
    processes: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.pss_kb + other.pss_kb, self.rss_kb + other.rss_kb, self.processes + other.processes)

    @property
    def pss_mb(self) -> float:
        return self.pss_kb / 1024


def usage_of(pid: int) -> Usage:
    """PSS and RSS of one process from its smaps_rollup; zero if it has exited."""
    values = {"Pss:": 0, "Rss:": 0}
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            for line in f:
                parts = line.split()
                if parts and parts[0] in values:
                    values[parts[0]] = int(parts[1])
    except (FileNotFoundError, ProcessLookupError):
        return Usage()
    return Usage(values["Pss:"], values["Rss:"], 1)


def total(pids: Iterable[int]) -> Usage:
    """The summed usage of `pids`."""
    result = Usage()
    for pid in pids:
        result = result + usage_of(pid)
    return result


def processes() -> Iterator[tuple[int, list[bytes]]]:
    """Every live process with a non-empty command line, as (pid, argv)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().rstrip(b"\0").split(b"\0")
        except OSError:
            continue
        if argv and argv[0]:
            yield int(entry), argv


def _parent_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return 0
    return int(stat[stat.rindex(")") + 2:].split()[1])  # the comm field may hold spaces and parentheses


def descendants(root: int) -> list[int]:
    """All live descendants of `root` (children, grandchildren, ...)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            children.setdefault(_parent_of(int(entry)), []).append(int(entry))
    found: list[int] = []
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return sorted(found)
