"""App templates: a small catalogue in Portainer's template format (version 2), shipped in
console/stacks/app_templates/templates.json, that works offline.

Type 3 (a compose stack) names its compose file with `repository: {"url": "builtin", "stackfile": …}`
(a file beside the catalogue); type 1 (one container: image, command, ports, env, restart_policy) is turned
into a one-service compose file, so both deploy as a stack. `env` entries ({name, label, default,
description}) become the stack's variables, which the compose text uses as ${NAME}.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from console.endpoints.client import EngineError, endpoint_client
from console.endpoints.models import Endpoint

FOLDER = Path(__file__).with_name("app_templates")
CATALOGUE = FOLDER / "templates.json"
CONTAINER, STACK = 1, 3
IMAGE_RE = re.compile(r"^\s*image:\s*['\"]?([^'\"\s#]+)", re.MULTILINE)


@dataclass(frozen=True)
class Variable:
    name: str
    label: str
    default: str = ""
    description: str = ""


@dataclass(frozen=True)
class AppTemplate:
    index: int
    type: int
    title: str
    description: str
    compose: str
    variables: tuple[Variable, ...]
    images: tuple[str, ...]
    logo: str = ""
    categories: tuple[str, ...] = field(default_factory=tuple)

    @property
    def kind(self) -> str:
        return "Container" if self.type == CONTAINER else "Stack"

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")[:40] or f"app-{self.index}"


def _container_compose(entry: dict[str, Any]) -> str:
    """A type 1 template as a compose file with one service, `app`."""
    service: dict[str, Any] = {"image": entry["image"]}
    if entry.get("command"):
        service["command"] = entry["command"]
    if entry.get("ports"):
        service["ports"] = [str(p).removesuffix("/tcp") for p in entry["ports"]]
    if entry.get("env"):
        service["environment"] = {v["name"]: "${" + v["name"] + "}" for v in entry["env"]}
    if entry.get("restart_policy"):
        service["restart"] = entry["restart_policy"]
    if entry.get("volumes"):
        service["volumes"] = [f"{v['bind']}:{v['container']}" if v.get("bind") else v["container"] for v in entry["volumes"]]
    return yaml.safe_dump({"services": {"app": service}}, sort_keys=False, width=1000)


def _template(index: int, entry: dict[str, Any]) -> AppTemplate:
    kind = int(entry.get("type", CONTAINER))
    if kind == STACK:
        compose = (FOLDER / Path(entry["repository"]["stackfile"]).name).read_text()
        images = tuple(dict.fromkeys(IMAGE_RE.findall(compose)))
    else:
        compose, images = _container_compose(entry), (entry["image"],)
    variables = tuple(Variable(v["name"], v.get("label") or v["name"], str(v.get("default", "")),
                               v.get("description", "")) for v in entry.get("env") or [])
    return AppTemplate(index, kind, entry["title"], entry.get("description", ""), compose, variables, images,
                       entry.get("logo", ""), tuple(entry.get("categories") or ()))


@cache
def templates() -> tuple[AppTemplate, ...]:
    """The catalogue (read once per process); entries of types other than 1 and 3 are skipped."""
    data = json.loads(CATALOGUE.read_text())
    return tuple(_template(i, e) for i, e in enumerate(data.get("templates") or []) if e.get("type") in (CONTAINER, STACK))


def get(index: int) -> AppTemplate | None:
    found = templates()
    return found[index] if 0 <= index < len(found) else None


def _normalised(image: str) -> str:
    return image if ":" in image.rsplit("/", 1)[-1] or "@" in image else f"{image}:latest"


def missing_images(endpoint: Endpoint, wanted: tuple[str, ...]) -> set[str]:
    """The images of `wanted` the endpoint does not have (EngineError when it cannot be asked)."""
    with endpoint_client(endpoint) as client:
        present = {t for img in client.api.images() for t in img.get("RepoTags") or []}
    return {i for i in wanted if _normalised(i) not in present}


def availability(endpoint: Endpoint) -> tuple[dict[int, set[str]], str]:
    """Template index → its missing images, and an error text when the endpoint could not be asked."""
    everything = tuple(dict.fromkeys(i for t in templates() for i in t.images))
    try:
        missing = missing_images(endpoint, everything)
    except EngineError as exc:
        return {}, exc.message
    return {t.index: {i for i in t.images if i in missing} for t in templates()}, ""
