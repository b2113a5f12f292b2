"""Volume work that runs as background jobs (console/jobs): export to a kept tar, import an uploaded tar, prune.

- "volume.export": the volume as a tar, written to the export file area (console/volumes/exports.py);
  the result links to its download. Progress is bytes written against the volume's size.
- "volume.import": the upload (already checked whole by the page: console/volumes/file_views.py)
  extracted into the volume, which is made first when missing. Checked again as it streams, so an
  archive changed behind the page's back still cannot write outside the volume.
- "prune.volumes": every volume no container uses; the removed ones are the job's items.

`start_*` queue them from a view or the API (inside the request's transaction). Handlers report
through JobContext; failures are EngineError / VolumeAccessError with words a person can act on.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone

from console.endpoints.client import EngineError
from console.endpoints.models import Endpoint
from console.jobs.framework import JobContext, JobFailed, job_task, start_job
from console.jobs.models import Job
from console.volumes import exports, service, transfer

IMPORT_KIND = "volume.import"
PRUNE_KIND = "prune.volumes"


def _actor(job: JobContext) -> Any:
    """Who the activity log names for what the job does: its requester."""
    return SimpleNamespace(user=job.user, META={})


def _volume_links(endpoint: Endpoint | None, name: str) -> list[dict[str, str]]:
    if endpoint is None:
        return []
    return [{"label": "Open volume", "url": reverse("volumes:detail", kwargs={"eid": endpoint.pk, "name": name})},
            {"label": "Browse files", "url": reverse("volumes:files", kwargs={"eid": endpoint.pk, "name": name})}]


def _reporter(job: JobContext, verb: str, of: str = "of") -> transfer.Progress:
    """A transfer progress callback that moves the job's bar and stops the copy once a cancel is asked for.

    `total` may be an estimate (an export's tar is a little larger than the files it holds): the bar
    stops short of its end until the job does.
    """
    def progress(done: int, total: int | None) -> None:
        job.check_cancelled()
        if total:
            job.progress(min(0.99, done / total), f"{verb} {filesizeformat(done)} {of} {filesizeformat(total)}")
        else:
            job.progress(None, f"{verb} {filesizeformat(done)}")
    return progress


# -- export -------------------------------------------------------------------------------------------

def start_export(request: Any, endpoint: Endpoint, name: str) -> Job:
    filename = f"{name}-{timezone.now():%Y%m%d-%H%M%S}.tar"
    return start_job(exports.EXPORT_KIND, request=request, endpoint=endpoint, title=f"Export volume {name}",
                     params={"name": name, "filename": filename})


def _volume_size(endpoint: Endpoint, name: str) -> int | None:
    """The volume's size for the progress bar, when the engine says (None: unknown)."""
    try:
        size = service.sizes(endpoint).get(name, -1)
    except EngineError:
        return None
    return size if size > 0 else None


@job_task(exports.EXPORT_KIND)
def export_volume(job: JobContext) -> dict[str, Any]:
    """Write the volume as a tar into the job's export folder; the result names the file and links to it."""
    name, filename = job.params["name"], job.params["filename"]
    if job.endpoint is None:
        raise JobFailed("the job's endpoint no longer exists")
    job.status("Measuring the volume")
    total = _volume_size(job.endpoint, name)
    job.log(f"Exporting volume {name}" + (f" (its files use {filesizeformat(total)})" if total else "") + f" to {filename}.")
    path = exports.export_dir(job.job_id) / filename
    try:
        with open(path, "wb") as out:
            written = transfer.export_volume(job.endpoint, name, out, _reporter(job, "Exported", "of files using"), total)
    except BaseException:
        exports.remove(job.job_id)
        raise
    hours = exports.retention().total_seconds() / 3600
    until = timezone.localtime(timezone.now() + exports.retention())
    job.log(f"Wrote {filesizeformat(written)}. Download it from this page until {until:%Y-%m-%d %H:%M} UTC; "
            f"only you and administrators can.")
    job.status(f"Exported {filesizeformat(written)}; the file is kept for {hours:g} h")
    links = [{"label": f"Download {filename}", "url": exports.download_url(job.job_id, job.endpoint.pk)}, *_volume_links(job.endpoint, name)]
    download = reverse("api-volume-export-file", kwargs={"eid": job.endpoint.pk, "job_id": job.job_id})
    return {"volume": name, "file": filename, "size": written, "kept_hours": hours, "download": download, "links": links}


# -- import -------------------------------------------------------------------------------------------

def start_import(request: Any, endpoint: Endpoint, name: str, archive: UploadedFile) -> Job:
    """Queue the import of `archive` (checked by the caller: transfer.check_archive) into volume `name`."""
    return start_job(IMPORT_KIND, request=request, endpoint=endpoint, title=f"Import into volume {name}",
                     params={"name": name, "size": archive.size, "upload": archive.name or "archive.tar"},
                     files={"archive": archive})


@job_task(IMPORT_KIND)
def import_volume(job: JobContext) -> dict[str, Any]:
    """Make the volume when missing, then extract the uploaded tar into it (same names overwritten)."""
    name, size = job.params["name"], job.params.get("size")
    if job.endpoint is None:
        raise JobFailed("the job's endpoint no longer exists")
    source = job.file("archive")
    if not service.exists(job.endpoint, name):
        job.status(f"Creating volume {name}")
        service.create_volume(_actor(job), job.endpoint, name)
        job.log(f"Created volume {name}.")
    with open(source, "rb") as archive:
        done = transfer.import_volume(job.endpoint, name, archive, _reporter(job, "Imported"), total=size)
    job.status(f"Imported {done.members} entr{'y' if done.members == 1 else 'ies'} into {name}")
    job.log(f"Extracted {done.members} entries ({filesizeformat(size or done.bytes)}) into {name}.")
    return {"volume": name, "members": done.members, "bytes": done.bytes, "links": _volume_links(job.endpoint, name)}


# -- prune --------------------------------------------------------------------------------------------

def start_prune(request: Any, endpoint: Endpoint) -> Job:
    return start_job(PRUNE_KIND, request=request, endpoint=endpoint, title=f"Prune unused volumes on {endpoint.name}")


@job_task(PRUNE_KIND)
def prune_volumes(job: JobContext) -> dict[str, Any]:
    """Remove every volume no container uses (service.prune_volumes audits it); each removed one is an item."""
    if job.endpoint is None:
        raise JobFailed("the job's endpoint no longer exists")
    job.progress(None, "Removing unused volumes")
    removed, reclaimed = service.prune_volumes(_actor(job), job.endpoint)
    for name in removed:
        job.item(name, label=name, status="Removed", fraction=1.0)
    summary = (f"Removed {len(removed)} unused volume{'s' if len(removed) != 1 else ''}, {filesizeformat(reclaimed)} freed."
               if removed else "No unused volumes: nothing was removed.")
    job.status(summary)
    links = [{"label": "Volumes", "url": reverse("volumes:list", kwargs={"eid": job.endpoint.pk})}]
    return {"removed": removed, "reclaimed": reclaimed, "summary": summary, "links": links}
