"""The files volume-export jobs leave behind: where they are kept, who may fetch them, when they go.

An export job (console/volumes/jobs.py) writes its tar to ``<BERTH_VAR_DIR>/volume-exports/<job id>/``
(folders 0700: the tar holds the volume's data). The job's result names the file and links to
`download_url(job)`, which only the job's requester and administrators may fetch (file_views.py).

Lifecycle: a file is kept for ``BERTH_EXPORT_RETENTION_HOURS`` (default 24) after its job finished.
`expire()` — the beat task "volumes.expire_exports", every EXPIRE_INTERVAL seconds — removes older
files, the folders of jobs that failed, were cancelled or are gone, and marks the job's result
"expired" so its page no longer offers the download. A folder whose job is still queued or running
is never touched.
"""

from __future__ import annotations

import logging
import shutil
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from console.jobs.models import Job

log = logging.getLogger(__name__)

EXPORT_KIND = "volume.export"
EXPIRE_INTERVAL = 600.0  # seconds between two sweeps of old exports
STRAY_GRACE = 3600  # seconds a folder with no (committed) job is left alone: its job may be starting


def retention() -> timedelta:
    """How long a finished export's file is kept."""
    return timedelta(hours=float(getattr(settings, "BERTH_EXPORT_RETENTION_HOURS", 24)))


def exports_root() -> Path:
    return Path(settings.VAR_DIR) / "volume-exports"


def export_dir(job_id: int) -> Path:
    """The job's private folder (made, 0700, with its parent)."""
    root = exports_root()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    root.chmod(0o700)
    folder = root / str(int(job_id))
    folder.mkdir(exist_ok=True, mode=0o700)
    return folder


def export_file(job: Job) -> Path | None:
    """The tar a succeeded export job wrote, if it is still kept; else None."""
    name = (job.result or {}).get("file") if isinstance(job.result, dict) else None
    if job.kind != EXPORT_KIND or job.state != Job.SUCCEEDED or not name or "/" in name or name.startswith("."):
        return None
    path = exports_root() / str(job.pk) / name
    return path if path.is_file() else None


def download_url(job_id: int, endpoint_id: int) -> str:
    return reverse("volumes:export-download", kwargs={"eid": endpoint_id, "job_id": job_id})


def remove(job_id: int) -> None:
    shutil.rmtree(exports_root() / str(int(job_id)), ignore_errors=True)


def _expired(job: Job | None, folder: Path, now: float) -> bool:
    """Whether `folder` (of `job`, None when there is no such job) should go now."""
    if job is None:
        return folder.stat().st_mtime < now - STRAY_GRACE
    if job.state in Job.ACTIVE:
        return False
    if job.state != Job.SUCCEEDED:
        return True
    return job.finished_at is None or job.finished_at < timezone.now() - retention()


def _mark_expired(job: Job) -> None:
    """Drop the download link from the job's result and say the file is gone."""
    result: dict[str, Any] = dict(job.result or {}) if isinstance(job.result, dict) else {}
    if not result or result.get("expired"):
        return
    result["expired"] = True
    result.pop("download", None)
    result["links"] = [x for x in result.get("links") or [] if "/exports/" not in str(x.get("url"))]
    Job.objects.filter(pk=job.pk).update(result=result)


def expire() -> int:
    """Remove every export folder whose time is up (see the module doc); how many went."""
    root = exports_root()
    if not root.is_dir():
        return 0
    folders = {int(f.name): f for f in root.iterdir() if f.is_dir() and f.name.isdigit()}
    jobs = {j.pk: j for j in Job.objects.filter(pk__in=list(folders)).defer("log")}
    now, removed = time.time(), 0
    for job_id, folder in folders.items():
        job = jobs.get(job_id)
        if _expired(job, folder, now):
            remove(job_id)
            if job is not None and job.state == Job.SUCCEEDED:
                _mark_expired(job)
            removed += 1
    if removed:
        log.info("removed %d volume export(s) past their retention", removed)
    return removed
