"""Docker's JSON progress lines (pull, push) folded into per-layer bars, an overall fraction and log lines.

Pure: `LayerProgress.feed(line)` takes one decoded line of `POST /images/create` or `POST
/images/<name>/push` and returns what changed — the layer's new state (for JobContext.item), a log
line when something worth a line happened (a layer's status changed, a message without a layer),
the error when the stream reports one, and `aux` (push digests). A layer's bar counts the download
as 80 % and the unpacking as 20 % (pull), or the upload as all of it (push); the overall fraction is
the mean over the layers seen so far.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DOWNLOAD_SHARE = 0.8
DONE = frozenset({"Pull complete", "Already exists", "Pushed", "Layer already exists"})
WAITING = frozenset({"Pulling fs layer", "Waiting", "Preparing"})
DOWNLOADED = frozenset({"Verifying Checksum", "Download complete"})
HEADERS = ("Pulling from ", "The push refers to ")


@dataclass
class Layer:
    id: str
    status: str = ""
    fraction: float = 0.0
    current: int | None = None
    total: int | None = None

    def as_item(self) -> dict[str, Any]:
        return {"key": self.id, "label": self.id, "status": self.status, "fraction": self.fraction,
                "current": self.current, "total": self.total}


@dataclass(frozen=True)
class Change:
    item: dict[str, Any] | None = None
    log: str = ""
    error: str = ""
    aux: dict[str, Any] | None = None


@dataclass
class LayerProgress:
    """The state of one pull or push stream (`push=True` for pushes)."""

    push: bool = False
    layers: dict[str, Layer] = field(default_factory=dict)

    @property
    def fraction(self) -> float | None:
        """Mean of the layers' fractions; None until a layer is known."""
        if not self.layers:
            return None
        return sum(layer.fraction for layer in self.layers.values()) / len(self.layers)

    @property
    def summary(self) -> str:
        """ "3 of 5 layers done" (or "" before any layer is known)."""
        if not self.layers:
            return ""
        done = sum(1 for layer in self.layers.values() if layer.fraction >= 1.0)
        return f"{done} of {len(self.layers)} layer{'s' if len(self.layers) != 1 else ''} {'pushed' if self.push else 'done'}"

    def feed(self, line: dict[str, Any]) -> Change:
        if not isinstance(line, dict):
            return Change(log=str(line))
        error = line.get("error") or (line.get("errorDetail") or {}).get("message") or ""
        if error:
            return Change(log=f"Error: {error}", error=str(error))
        status, ident = str(line.get("status") or ""), str(line.get("id") or "")
        if line.get("aux") is not None:
            return Change(aux=line["aux"] if isinstance(line["aux"], dict) else {"value": line["aux"]})
        if not ident or status.startswith(HEADERS):
            text = f"{ident}: {status}" if ident and status.startswith(HEADERS) else status
            return Change(log=text) if text else Change()
        return self._layer_line(ident, status, line.get("progressDetail") or {})

    def _layer_line(self, ident: str, status: str, detail: dict[str, Any]) -> Change:
        layer = self.layers.setdefault(ident, Layer(ident))
        changed = status != layer.status
        layer.status = status
        current, total = _int(detail.get("current")), _int(detail.get("total"))
        if total and status in ("Downloading", "Pushing"):  # the bytes shown are the transfer's
            layer.current, layer.total = current or 0, total
        layer.fraction = max(layer.fraction, self._fraction(status, current, total))
        if layer.total and layer.fraction >= (1.0 if self.push else DOWNLOAD_SHARE):  # transferred
            layer.current = layer.total
        return Change(item=layer.as_item(), log=f"{ident}: {status}" if changed else "")

    def _fraction(self, status: str, current: int | None, total: int | None) -> float:
        part = min(1.0, (current or 0) / total) if total else 0.0
        if status in DONE or status.startswith("Mounted from"):
            return 1.0
        if status in WAITING:
            return 0.0
        if self.push:
            return part if status == "Pushing" else 0.0
        if status == "Downloading":
            return DOWNLOAD_SHARE * part
        if status in DOWNLOADED:
            return DOWNLOAD_SHARE
        if status == "Extracting":
            return DOWNLOAD_SHARE + (1 - DOWNLOAD_SHARE) * part
        return 0.0


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
