"""A project's images on the engine: each service's image found, else built or pulled (through the API).

A service with `build:` is built when its image is missing and its build context directory is known
(`build_dir(service)`, e.g. an adopted project's working_dir + context); without a directory the deploy
stops with a message saying so (a stack written in the console has no files beside its compose text).
A service without `build:` whose image is missing is pulled, with per-layer progress reported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import docker
import docker.errors
from docker.utils import parse_repository_tag

from console.stacks.compose.model import Project, Service

if TYPE_CHECKING:
    from console.stacks.compose.apply import Reporter


def _fail(message: str) -> Exception:
    from console.stacks.compose.apply import ApplyError

    return ApplyError(message)


def image_id(api: docker.APIClient, image: str) -> str | None:
    try:
        return str(api.inspect_image(image)["Id"])
    except docker.errors.NotFound:
        return None
    except docker.errors.APIError as exc:
        if exc.status_code == 404:
            return None
        raise


def pull(api: docker.APIClient, image: str, report: Reporter, auth: dict[str, Any] | None) -> None:
    repository, tag = parse_repository_tag(image)
    report.item(f"image:{image}", image, "Pulling", None)
    for line in api.pull(repository, tag=tag or "latest", stream=True, decode=True, auth_config=auth):
        report.check()
        error = line.get("error") or (line.get("errorDetail") or {}).get("message")
        if error:
            raise _fail(f"pulling {image}: {error}")
        if line.get("status") and not line.get("progressDetail"):
            report.log(f"{image}: {line.get('id', '') + ': ' if line.get('id') else ''}{line['status']}")
    report.item(f"image:{image}", image, "Pulled", 1.0)


def build(api: docker.APIClient, service: Service, directory: str, report: Reporter) -> None:
    spec = service.build
    assert spec is not None
    report.item(f"image:{service.image}", service.image, "Building", None)
    stream = api.build(path=directory, tag=service.image, dockerfile=spec.dockerfile, buildargs=dict(spec.args) or None,
                       target=spec.target or None, rm=True, forcerm=True, decode=True)
    for line in stream:
        report.check()
        error = line.get("error") or (line.get("errorDetail") or {}).get("message")
        if error:
            raise _fail(f"building {service.name}: {error}")
        if line.get("stream", "").strip():
            report.log(f"{service.name} | {line['stream'].rstrip()}")
    report.item(f"image:{service.image}", service.image, "Built", 1.0)


def ensure_images(api: docker.APIClient, project: Project, report: Reporter,
                  pull_auth: Callable[[str], dict[str, Any] | None],
                  build_dir: Callable[[Service], str | None]) -> dict[str, str]:
    """Service name → the ID of its image, after building or pulling what was missing."""
    ids: dict[str, str] = {}
    report.status("Checking images", 0.1)
    for service in project.services:
        found = image_id(api, service.image)
        if found is None and service.build is not None:
            directory = build_dir(service)
            if directory is None:
                raise _fail(f"image {service.image} of service {service.name} is not on this endpoint, and a stack "
                            "written in the console has no build context: build or pull the image first (Images → "
                            "Build), or adopt the project from its directory")
            report.status(f"Building {service.image}", 0.2)
            build(api, service, directory, report)
            found = image_id(api, service.image)
        elif found is None:
            report.status(f"Pulling {service.image}", 0.2)
            pull(api, service.image, report, pull_auth(service.image))
            found = image_id(api, service.image)
        if found is None:
            raise _fail(f"image {service.image} is still missing after it was built or pulled")
        ids[service.name] = found
    return ids
