"""Image work as background jobs (console/jobs): pull, push, build, load.

Kinds and their params (start them with console.images.starting, which the pages and the API call):
    image.pull   {"image": "repo[:tag|@digest]"}                     per-layer bars, result {"image_id"}
    image.push   {"tag": "registry/repo:tag"}                          per-layer bars, result {"digest"}
    image.build  {"tags": [...], "dockerfile": "Dockerfile", "text": "<editor>", "buildargs": {...},
                  "nocache": bool, "pull": bool} + upload "context"    log as it builds, result {"image_id"}
    image.load   {} + upload "archive"                                  upload progress, result {"loaded"}
Credentials come from console/registries at run time (never in params). The engine's and the
registry's words reach the job's error as they are.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import docker
import docker.errors
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from docker.utils import parse_repository_tag

from console.accounts.ownership import record_owner
from console.endpoints.client import EngineError
from console.images import buildctx, streams
from console.images.progress import LayerProgress
from console.jobs.framework import JobContext, JobFailed, job_task
from console.registries.crypto import SecretUnreadable
from console.registries.models import RegistryCredential, auth_config_for

PULL, PUSH, BUILD, LOAD = "image.pull", "image.push", "image.build", "image.load"
STEP_RE = re.compile(r"^Step (\d+)/(\d+) : (.*)")
LOADED_RE = re.compile(r"^Loaded image(?: ID)?: (\S+)")


def image_link(job: JobContext, image_id: str) -> dict[str, str]:
    hex_id = image_id.removeprefix("sha256:")[:12]
    return {"label": "Open image", "url": reverse("images:detail", kwargs={"eid": job.endpoint.pk, "image_id": hex_id})}


def registry_auth(image: str) -> dict[str, Any] | None:
    try:
        return auth_config_for(image)
    except SecretUnreadable as exc:
        raise JobFailed(f"The stored credentials for this registry cannot be used: {exc}") from None


def split_reference(image: str) -> tuple[str, str]:
    """ "app" → ("app", "latest"); "r:5000/app:v1" → ("r:5000/app", "v1"); digests stay whole."""
    repository, tag = parse_repository_tag(image)
    return repository, tag or "latest"


@contextmanager
def engine_stream(job: JobContext, path: str, **kwargs: Any) -> Iterator[tuple[docker.APIClient, Any]]:
    """(api, response) for a streamed POST on the job's engine; Cancel interrupts it; refusals → JobFailed."""
    with job.engine(timeout=60) as client:
        try:
            response = streams.post(client.api, path, **kwargs)
        except docker.errors.APIError as exc:
            raise JobFailed(str(exc.explanation or exc)) from None
        job.on_cancel(lambda: streams.interrupt(response))
        try:
            yield client.api, response
        finally:
            response.close()


def follow_layers(job: JobContext, api: docker.APIClient, response: Any, fold: LayerProgress) -> list[dict[str, Any]]:
    """Report a pull/push stream: bars per layer, overall progress, log lines; its aux messages."""
    aux: list[dict[str, Any]] = []
    for line in streams.lines(api, response):
        change = fold.feed(line)
        if change.error:
            job.log(change.log)
            raise JobFailed(change.error)
        if change.item:
            item = dict(change.item)
            job.item(item.pop("key"), **item)
        if change.log:
            job.log(change.log)
        if change.aux:
            aux.append(change.aux)
        job.progress(fold.fraction, fold.summary or (change.log or None))
        job.check_cancelled()
    return aux


@job_task(PULL)
def pull_image(job: JobContext) -> dict[str, Any]:
    image = job.params["image"]
    repository, tag = split_reference(image)
    headers = streams.registry_auth_header(registry_auth(image))
    job.progress(None, f"Asking the registry for {image}")
    with engine_stream(job, "/images/create", params={"fromImage": repository, "tag": tag}, headers=headers) as (api, response):
        follow_layers(job, api, response, LayerProgress())
        ref = f"{repository}@{tag}" if tag.startswith("sha256:") else f"{repository}:{tag}"
        image_id = api.inspect_image(ref)["Id"]
    job.progress(1.0, f"Pulled {image}")
    return {"image": image, "image_id": image_id, "links": [image_link(job, image_id)]}


@job_task(PUSH)
def push_image(job: JobContext) -> dict[str, Any]:
    target = job.params["tag"]
    repository, tag = split_reference(target)
    headers = streams.registry_auth_header(registry_auth(target))
    job.progress(None, f"Pushing {target}")
    with engine_stream(job, "/images/{0}/push", path_args=(repository,), params={"tag": tag}, headers=headers) as (api, response):
        aux = follow_layers(job, api, response, LayerProgress(push=True))
    digest = next((a.get("Digest") for a in aux if a.get("Digest")), "")
    job.progress(1.0, f"Pushed {target}" + (f" ({digest})" if digest else ""))
    return {"tag": target, "digest": digest}


def registry_configs() -> dict[str, dict[str, str]]:
    """Every stored credential that can be read, by server, for builds that pull base images."""
    configs = {}
    for cred in RegistryCredential.objects.all():
        try:
            configs[cred.server] = {"username": cred.username, "password": cred.password()}
        except SecretUnreadable:
            continue
    return configs


def build_context(job: JobContext) -> IO[bytes]:
    """The context to send: the upload (with the editor's Dockerfile in it, if typed) or the Dockerfile alone."""
    name, text = buildctx.dockerfile_name(job.params.get("dockerfile", "Dockerfile")), job.params.get("text", "")
    if "context" not in job.files:
        return io.BytesIO(buildctx.dockerfile_only(text, name))
    upload = job.file("context")
    if not text:
        return open(upload, "rb")
    merged = upload.with_name("context-with-dockerfile.tar")
    job.status("Putting the Dockerfile into the uploaded context")
    buildctx.with_dockerfile(upload, text, name, merged)
    return open(merged, "rb")


def build_params(p: dict[str, Any]) -> dict[str, Any]:
    return {"t": list(p.get("tags") or []), "dockerfile": buildctx.dockerfile_name(p.get("dockerfile", "Dockerfile")),
            "buildargs": json.dumps(p.get("buildargs") or {}), "nocache": "1" if p.get("nocache") else "0",
            "pull": "1" if p.get("pull") else "0", "rm": "1", "forcerm": "1"}


def report_build_line(job: JobContext, line: dict[str, Any], seen: dict[str, str]) -> str:
    """Log one build output line and move the bar on "Step n/m"; the image ID when the line names it."""
    error = line.get("error") or (line.get("errorDetail") or {}).get("message")
    if error:
        job.log(f"Error: {error}")
        raise JobFailed(str(error))
    if isinstance(line.get("aux"), dict) and line["aux"].get("ID"):
        return str(line["aux"]["ID"])
    text = line.get("stream")
    if text:
        job.write(text)
        step = STEP_RE.match(text.strip())
        if step:
            n, m = int(step.group(1)), int(step.group(2))
            job.progress((n - 1) / m if m else None, f"Step {n} of {m}: {step.group(3)[:200]}")
    elif line.get("status"):
        ident, status = str(line.get("id") or ""), str(line["status"])
        if seen.get(ident) != status:  # a base image's pull: one line per layer state, not per byte
            seen[ident] = status
            job.log(f"{ident}: {status}" if ident else status)
    return ""


@job_task(BUILD)
def build_image(job: JobContext) -> dict[str, Any]:
    headers = {"Content-Type": "application/x-tar", **streams.registry_config_header(registry_configs())}
    job.progress(None, "Sending the build context")
    image_id, seen = "", {}
    with build_context(job) as data, engine_stream(job, "/build", params=build_params(job.params), headers=headers,
                                                   data=data) as (api, response):
        for line in streams.lines(api, response):
            image_id = report_build_line(job, line, seen) or image_id
            job.check_cancelled()
    if not image_id:
        raise JobFailed("The engine ended the build without naming an image.")
    tags = list(job.params.get("tags") or [])
    if job.endpoint is not None:  # an image built through the console belongs to whoever built it (console/accounts)
        record_owner(job.user, job.endpoint, "image", image_id, ", ".join(tags))
    job.progress(1.0, "Built " + (", ".join(tags) if tags else image_id[:19]))
    return {"image_id": image_id, "tags": tags, "links": [image_link(job, image_id)]}


@job_task(LOAD)
def load_image(job: JobContext) -> dict[str, Any]:
    path = job.file("archive")
    size = path.stat().st_size

    def uploaded(done: int, total: int) -> None:
        job.progress(0.9 * done / total if total else None, f"Sending the archive: {filesizeformat(done)} of {filesizeformat(total)}")
        job.check_cancelled()

    loaded: list[str] = []
    with open(path, "rb") as f:
        reader = streams.CountingReader(f, size, uploaded)
        with engine_stream(job, "/images/load", params={"quiet": "0"}, headers={"Content-Type": "application/x-tar"},
                           data=reader) as (api, response):
            job.progress(0.95, "The engine is unpacking the images")
            for line in streams.lines(api, response):
                error = line.get("error") or (line.get("errorDetail") or {}).get("message")
                if error:
                    raise JobFailed(str(error))
                text = str(line.get("stream") or line.get("status") or "")
                if text:
                    job.log(text.rstrip("\n"))
                    found = LOADED_RE.match(text.strip())
                    if found:
                        loaded.append(found.group(1))
    if not loaded:
        raise JobFailed("The archive held no image (is it the output of docker save?).")
    job.progress(1.0, "Loaded " + ", ".join(loaded))
    return {"loaded": loaded, "links": _loaded_links(job, loaded)}


def _loaded_links(job: JobContext, loaded: list[str]) -> list[dict[str, str]]:
    """A link to the image when the archive held one (its ID looked up; none if that fails)."""
    if len(loaded) != 1:
        return []
    try:
        with job.engine() as client:
            return [image_link(job, client.api.inspect_image(loaded[0])["Id"])]
    except EngineError:
        return []
