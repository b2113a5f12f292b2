"""“Update available”: does the registry hold another image for a tag than the one pulled?

The list and detail pages never wait for a registry: they show what is known (TagCheck rows,
compared with the image's RepoDigests at render time) and `request_checks` queues a background
check (Celery task "images.check_tags", console/images/tasks.py) for tags not checked within
CHECK_TTL. A check asks the endpoint's engine (`GET /distribution/<name>/json`, what `docker
manifest inspect` uses) and, when the engine has no such route, the registry directly
(console/images/registry_http.py), with the stored credentials either way. Only tags the image was
pulled by (a RepoDigest for the tag's repository) can be checked: a built or loaded image has no
registry digest to compare with.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import docker.errors
from celery import current_app
from django.utils import timezone

from console.endpoints.client import EngineError, endpoint_client
from console.endpoints.models import Endpoint
from console.images.listing import ImageRow
from console.images.models import TagCheck
from console.images.registry_http import RegistryQueryError, manifest_digest
from console.registries.crypto import SecretUnreadable
from console.registries.models import auth_config_for

log = logging.getLogger(__name__)

CHECK_TASK = "images.check_tags"
CHECK_TTL = timedelta(hours=6)
REQUEST_TTL = timedelta(minutes=2)  # a check asked for and not answered by then is asked for again


@dataclass(frozen=True)
class Marker:
    state: str  # update | current | checking | error | unknown
    text: str


def checkable(rows: list[ImageRow]) -> dict[str, str]:
    """Tags that can be checked, with the digest each was pulled by."""
    return {tag: r.digest_for(tag) for r in rows for tag in r.tags if r.digest_for(tag)}


def markers(endpoint: Endpoint, rows: list[ImageRow]) -> dict[str, Marker]:
    """The marker of every checkable tag, from what the checks found so far."""
    local = checkable(rows)
    checks = {c.tag: c for c in TagCheck.objects.filter(endpoint=endpoint, tag__in=list(local))}
    recent = timezone.now() - REQUEST_TTL
    out = {}
    for tag, digest in local.items():
        c = checks.get(tag)
        if c is not None and c.requested_at is not None and c.requested_at > recent:
            out[tag] = Marker("checking", "Checking the registry…")
        elif c is not None and c.error:
            out[tag] = Marker("error", f"Could not check the registry: {c.error}")
        elif c is not None and c.remote_digest:
            newer = c.remote_digest != digest
            out[tag] = Marker("update" if newer else "current",
                              f"The registry has {c.remote_digest[:19]}…; this image is {digest[:19]}…" if newer
                              else "Up to date with the registry")
        else:
            out[tag] = Marker("unknown", "Not checked yet")
    return out


def request_checks(endpoint: Endpoint, tags: list[str], force: bool = False) -> list[str]:
    """Queue a check of the `tags` that are due (all not already being checked, with `force`); which.

    Never blocks on the broker: if it does not answer, nothing is marked and [] is returned.
    """
    now = timezone.now()
    checks = {c.tag: c for c in TagCheck.objects.filter(endpoint=endpoint, tag__in=tags)}
    due = [t for t in tags if _due(checks.get(t), now, force)]
    if not due:
        return []
    for tag in due:
        TagCheck.objects.update_or_create(endpoint=endpoint, tag=tag, defaults={"requested_at": now})
    try:
        current_app.send_task(CHECK_TASK, args=[endpoint.pk, due], retry=False)
    except Exception as exc:  # broker away: the markers stay as they were
        log.warning("update checks not queued: %s", exc)
        TagCheck.objects.filter(endpoint=endpoint, tag__in=due, requested_at=now).update(requested_at=None)
        return []
    return due


def _due(check: TagCheck | None, now: datetime, force: bool) -> bool:
    if check is None:
        return True
    if check.requested_at is not None and check.requested_at > now - REQUEST_TTL:
        return False
    return force or check.checked_at is None or check.checked_at < now - CHECK_TTL


def remote_digest(endpoint: Endpoint, tag: str) -> tuple[str, str]:
    """(the registry's digest for `tag`, "") or ("", why it could not be had)."""
    try:
        auth = auth_config_for(tag)
    except SecretUnreadable as exc:
        return "", str(exc)
    try:
        with endpoint_client(endpoint, timeout=30) as client:
            try:
                return str(client.api.inspect_distribution(tag, auth_config=auth)["Descriptor"]["digest"]), ""
            except docker.errors.APIError as exc:
                if not (exc.status_code == 404 and "page not found" in str(exc.explanation)):
                    return "", str(exc.explanation or exc)
    except EngineError as exc:
        return "", exc.message
    try:
        return manifest_digest(tag, auth), ""
    except RegistryQueryError as exc:
        return "", str(exc)


def run_checks(endpoint_id: int, tags: list[str]) -> dict[str, str]:
    """Check each tag and store what was found; the digests (or errors) by tag."""
    endpoint = Endpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        return {}
    found = {}
    for tag in tags:
        digest, error = remote_digest(endpoint, tag)
        TagCheck.objects.update_or_create(endpoint=endpoint, tag=tag, defaults={
            "remote_digest": digest, "error": error[:2000], "checked_at": timezone.now(), "requested_at": None})
        found[tag] = digest or f"error: {error}"
    return found
