"""Results: one `Row` per measured operation, rendered as a text table, JSON and markdown.

A row holds Berth's and Docker's median (seconds or MB), the raw samples, and
what it is judged against: a target (the largest acceptable ratio Berth/Docker),
a limit (a value Berth must stay under, whatever Docker does), both, or neither
for rows that are reported for information only. Rendering is pure;
`write_results` is the one function that touches the disk.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Row:
    key: str
    operation: str
    unit: str  # "s" or "MB"
    berth: float
    docker: float
    target: float | None
    samples: dict[str, list[float]] = field(default_factory=dict)
    note: str = ""
    limit: float | None = None  # Berth's value must be under this, in `unit`

    @property
    def ratio(self) -> float:
        if self.docker == 0 or math.isnan(self.docker) or math.isnan(self.berth):
            return float("nan")
        return self.berth / self.docker

    @property
    def verdict(self) -> str:
        checks = []
        if self.target is not None:
            checks.append(self.ratio <= self.target)
        if self.limit is not None:
            checks.append(self.berth < self.limit)
        if not checks:
            return "info"
        return "PASS" if all(checks) else "FAIL"


def _value(v: float, unit: str) -> str:
    if math.isnan(v):
        return "—"
    if unit == "s":
        return f"{v:.3f} s" if v < 10 else f"{v:.2f} s"
    return f"{v:.2f} MB" if v < 10 else f"{v:.1f} MB"


def _cells(row: Row) -> list[str]:
    targets = ([f"<= {row.target:.1f}x"] if row.target is not None else []) + (
        [f"Berth < {_value(row.limit, row.unit)}"] if row.limit is not None else [])
    target = ", ".join(targets) or "—"
    ratio = "—" if math.isnan(row.ratio) else f"{row.ratio:.2f}x"
    if row.target is not None and ratio == f"{row.target:.2f}x":
        ratio = f"{row.ratio:.3f}x"  # two decimals would hide which side of the target it fell
    return [row.operation, _value(row.berth, row.unit), _value(row.docker, row.unit), ratio, target, row.verdict]


HEADERS = ["operation", "Berth", "Docker", "Berth/Docker", "target", "result"]


def text_table(rows: list[Row]) -> str:
    """A fixed-width table for a terminal, notes listed below it."""
    body = [HEADERS] + [_cells(r) for r in rows]
    widths = [max(len(line[i]) for line in body) for i in range(len(HEADERS))]
    lines = []
    for n, line in enumerate(body):
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))]
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = [f"  {r.operation}: {r.note}" for r in rows if r.note]
    return "\n".join(lines + (["", "notes:", *notes] if notes else []))


def markdown_table(rows: list[Row], meta: dict[str, Any]) -> str:
    """A markdown table for the README, with the conditions of the run beneath it."""
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for r in rows:
        cells = _cells(r)
        cells[0] = cells[0].replace("|", "\\|")
        cells[5] = f"**{cells[5]}**" if cells[5] == "FAIL" else cells[5]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        f"Medians of {meta['runs']} runs each, Berth and Docker alternating, same docker CLI "
        f"({meta.get('docker_cli', '?')}); Docker {meta.get('docker_server', '?')}; "
        f"{meta.get('cpus', '?')} CPUs, {meta.get('date', '?')}."
    )
    notes = [f"- {r.operation}: {r.note}" for r in rows if r.note]
    return "\n".join(lines + (["", *notes] if notes else [])) + "\n"


def to_json(rows: list[Row], meta: dict[str, Any]) -> dict[str, Any]:
    """Everything measured: conditions, medians, ratios, verdicts and raw samples."""
    out = []
    for r in rows:
        item = asdict(r)
        item["ratio"] = r.ratio
        item["verdict"] = r.verdict
        out.append(item)
    return {"meta": meta, "results": out}


def write_results(rows: list[Row], meta: dict[str, Any], directory: Path = RESULTS_DIR) -> list[Path]:
    """Write latest.json and latest.md under `directory`; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "latest.json"
    md_path = directory / "latest.md"
    json_path.write_text(json.dumps(_finite(to_json(rows, meta)), indent=2, allow_nan=False) + "\n")
    md_path.write_text(markdown_table(rows, meta))
    return [json_path, md_path]


def _finite(value: Any) -> Any:
    """`value` with every NaN or infinity replaced by None, which JSON can carry."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
