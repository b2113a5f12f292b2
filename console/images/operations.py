"""What the console does with images on an engine — for the pages and the REST API alike.

Quick things happen here, in the request: list, inspect + history, tag, remove, and the export
(`docker save`) stream. Long things start jobs (console/images/jobs.py): `start_pull`, `start_push`,
`start_build`, `start_load`. Every change is recorded in the activity log here (jobs record their
own outcome). Engine refusals come back as `ImageRefused` with the engine's words and status; an
engine that cannot be reached raises EngineError (console/endpoints/client.py).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass
from typing import Any

import docker.errors
from asgiref.sync import sync_to_async
from django.core.files.uploadedfile import UploadedFile

from console.accounts.policy import PolicyViolation, check_build
from console.audit.log import record
from console.audit.models import Activity
from console.endpoints.client import endpoint_client
from console.endpoints.models import Endpoint
from console.images import jobs as kinds
from console.images import listing
from console.jobs.framework import start_job
from console.jobs.models import Job

EXPORT_CHUNK = 1 << 20
SAFE_FILENAME_RE = re.compile(r"[^A-Za-z0-9_.-]+")


class ImageRefused(Exception):
    """The engine refused; `message` is its explanation, `status` its HTTP status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message, self.status = message, status


@dataclass(frozen=True)
class ImageDetail:
    row: listing.ImageRow
    inspect: dict[str, Any]
    history: list[dict[str, Any]]


def list_rows(endpoint: Endpoint) -> list[listing.ImageRow]:
    """Every image of the endpoint with the containers using it (raises EngineError)."""
    with endpoint_client(endpoint) as client:
        images = client.api.images()
        containers = client.api.containers(all=True)
    return listing.rows(images, containers)


def detail(endpoint: Endpoint, image_id: str) -> ImageDetail | None:
    """One image by (a prefix of) its ID: row, inspect and history; None when there is no such image."""
    row = listing.find(list_rows(endpoint), image_id)
    if row is None:
        return None
    with endpoint_client(endpoint) as client:
        try:
            inspect = client.api.inspect_image(row.id)
            history = client.api.history(row.id)
        except docker.errors.NotFound:
            return None
    return ImageDetail(row, inspect, history or [])


def tag_image(request: Any, endpoint: Endpoint, image: str, target: str) -> None:
    """Tag `image` (an ID or reference) as `target` ("repo[:tag]"); recorded as image.tag."""
    repository, tag = kinds.split_reference(target)
    with endpoint_client(endpoint) as client:
        try:
            client.api.tag(image, repository, tag)
        except docker.errors.APIError as exc:
            message = str(exc.explanation or exc)
            record(request, "image.tag", target, Activity.FAILURE, message, endpoint, image=image)
            raise ImageRefused(message, exc.status_code) from None
    record(request, "image.tag", f"{repository}:{tag}", Activity.SUCCESS, "", endpoint, image=image)


def remove_image(request: Any, endpoint: Endpoint, ref: str, force: bool = False) -> list[dict[str, Any]]:
    """Remove `ref` (a tag untags; an ID removes the image); what the engine untagged and deleted.

    An image in use is refused with the engine's message (409), which names the container.
    """
    with endpoint_client(endpoint) as client:
        try:
            gone = client.api.remove_image(ref, force=force) or []
        except docker.errors.APIError as exc:
            message = str(exc.explanation or exc)
            record(request, "image.remove", ref, Activity.FAILURE, message, endpoint, force=force)
            raise ImageRefused(message, exc.status_code) from None
    record(request, "image.remove", ref, Activity.SUCCESS, "", endpoint, force=force, removed=gone)
    return list(gone)


def export_filename(ref: str) -> str:
    """A download name for `docker save` of `ref`: "busybox_latest.tar"."""
    return (SAFE_FILENAME_RE.sub("_", ref.removeprefix("sha256:")).strip("_") or "image")[:120] + ".tar"


def export_chunks(endpoint: Endpoint, ref: str) -> Generator[bytes, None, None]:
    """`docker save ref` as it streams from the engine, 1 MiB at a time; the connection is closed at the end.

    The first request (the engine checks the name) happens before the first chunk is yielded, so call
    `next()` once before answering to turn an unknown image into an error page instead of a broken download.
    """
    with endpoint_client(endpoint, timeout=300) as client:
        api = client.api
        response = api._get(api._url("/images/{0}/get", ref), stream=True)
        try:
            api._raise_for_status(response)
            yield b""
            yield from response.iter_content(EXPORT_CHUNK)
        finally:
            response.close()


async def aiterate(chunks: Generator[bytes, None, None]) -> AsyncIterator[bytes]:
    """A sync chunk iterator served to an ASGI response without holding a thread between chunks."""
    step = sync_to_async(next, thread_sensitive=False)
    try:
        while True:
            chunk = await step(chunks, None)
            if chunk is None:
                return
            if chunk:
                yield chunk
    finally:
        await sync_to_async(chunks.close, thread_sensitive=False)()


def start_pull(request: Any, endpoint: Endpoint, image: str) -> Job:
    return start_job(kinds.PULL, request=request, endpoint=endpoint, title=f"Pull {image}", params={"image": image})


def start_push(request: Any, endpoint: Endpoint, tag: str) -> Job:
    return start_job(kinds.PUSH, request=request, endpoint=endpoint, title=f"Push {tag}", params={"tag": tag})


def start_build(request: Any, endpoint: Endpoint, data: dict[str, Any]) -> Job:
    """Build from the BuildForm's cleaned data (the context upload, if any, is kept for the worker).

    Raises PolicyViolation (audited) when the Dockerfile asks for what the endpoint's security settings
    forbid non-administrators (RUN --network=host, RUN --security=insecure)."""
    tags = list(data.get("tags") or [])
    try:
        check_build(getattr(request, "user", None), endpoint, "", data.get("text") or "")
    except PolicyViolation as exc:
        record(request, "image.build", ", ".join(tags) or "an image", Activity.DENIED, exc.message, endpoint)
        raise
    params = {"tags": tags, "dockerfile": data.get("dockerfile") or "Dockerfile", "text": data.get("text") or "",
              "buildargs": data.get("buildargs") or {}, "nocache": bool(data.get("nocache")), "pull": bool(data.get("pull"))}
    files: dict[str, UploadedFile] = {"context": data["context"]} if data.get("context") else {}
    title = "Build " + (", ".join(tags) if tags else "an image")
    return start_job(kinds.BUILD, request=request, endpoint=endpoint, title=title[:200], params=params, files=files)


def start_load(request: Any, endpoint: Endpoint, archive: UploadedFile) -> Job:
    name = getattr(archive, "name", "") or "archive"
    return start_job(kinds.LOAD, request=request, endpoint=endpoint, title=f"Import {name}"[:200], files={"archive": archive})
