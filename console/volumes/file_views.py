"""A volume's files (browse read-only, download one), export as a tar, import a tar — as pages.

File downloads stream: the response reads the helper container's output as the
browser takes it (console/volumes/streaming.py) and the helper is removed when
the response ends. Export and import are background jobs (console/volumes/jobs.py):
export keeps the tar in the export file area (console/volumes/exports.py) for its
requester to download; import checks the uploaded archive whole here — an unsafe
or broken one is refused on the form before anything is made or written — and
then extracts it in a worker. Exports and downloads are recorded in the activity
log like changes: they take data off the engine.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console.accounts.access import is_console_admin, record_denied, requires
from console.accounts.policy import can
from console.audit.log import record
from console.audit.models import Activity
from console.endpoints.client import EngineError
from console.endpoints.models import Endpoint
from console.jobs.models import Job
from console.volumes import browse, exports, jobs, service, transfer
from console.volumes.forms import ImportForm
from console.volumes.streaming import StreamBody, attachment

CHUNK = 1 << 20  # bytes read at a time from a kept export


@requires("volume.files", resource="name")
@require_GET
def volume_files(request: HttpRequest, eid: int, name: str) -> HttpResponse:
    """The directory ?path= of the volume (default "/"), read-only."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    context = {"endpoint": endpoint, "name": name, "path": request.GET.get("path", "/"), "listing": None, "error": ""}
    status = 200
    try:
        context["listing"] = browse.list_dir(endpoint, name, context["path"])
    except ValueError as exc:
        context["error"], status = str(exc).capitalize() + ".", 400
    except EngineError as exc:
        context["error"], status = exc.message[:1].upper() + exc.message[1:] + ".", exc.status or 502
    return render(request, "volumes/files.html", context, status=status if status in (400, 404) else 200)


@requires("volume.files", resource="name")
@require_GET
def volume_download(request: HttpRequest, eid: int, name: str) -> HttpResponse:
    """One regular file of the volume (?path=), streamed as an attachment."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    path = request.GET.get("path", "")
    try:
        download = browse.open_file(endpoint, name, path)
    except (ValueError, EngineError) as exc:
        message = exc.message if isinstance(exc, EngineError) else str(exc)
        record(request, "volume.download", f"{name}:{path}"[:255], Activity.FAILURE, message, endpoint)
        messages.error(request, f"Could not download {path}: {message}")
        folder = path.rsplit("/", 1)[0] or "/"
        return redirect(reverse("volumes:files", kwargs={"eid": eid, "name": name}) + "?" + urlencode({"path": folder}))
    record(request, "volume.download", f"{name}:{path}"[:255], Activity.SUCCESS, "", endpoint, size=download.size)
    return attachment(StreamBody(download.chunks, download.close), download.name, "application/octet-stream", download.size)


@requires("volume.export", resource="name")
@require_POST
def volume_export(request: HttpRequest, eid: int, name: str) -> HttpResponse:
    """Start a background export of the volume (a job that keeps the tar for download); go to the job's page."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    try:
        service.get_volume(endpoint, name)
    except EngineError as exc:
        record(request, "volume.export", name, Activity.FAILURE, exc.message, endpoint)
        messages.error(request, f"Could not export {name}: {exc.message}")
        return redirect("volumes:list", eid=eid) if exc.status == 404 else redirect("volumes:detail", eid=eid, name=name)
    job = jobs.start_export(request, endpoint, name)
    return redirect(job.get_absolute_url())


@requires("volume.export")
@require_GET
def export_download(request: HttpRequest, eid: int, job_id: int) -> HttpResponse:
    """The tar an export job of this endpoint wrote: for the job's requester and administrators (others: 404),
    while it is kept."""
    job = get_object_or_404(Job.objects.select_related("endpoint"), pk=job_id, kind=exports.EXPORT_KIND, endpoint_id=eid)
    if job.user_id != request.user.pk and not is_console_admin(request.user):
        record_denied(request, "not your export", job.endpoint)
        raise Http404("no such export")
    path = exports.export_file(job)
    if path is None:
        hours = exports.retention().total_seconds() / 3600
        what = (f"The export is gone: exports are kept {hours:g} h after they finish. Export the volume again."
                if job.state == Job.SUCCEEDED else f"The export has {job.state}: there is no file to download.")
        messages.error(request, what)
        return redirect(job.get_absolute_url())
    record(request, "volume.export.download", job.params.get("name", ""), Activity.SUCCESS, "", job.endpoint_name,
           job=job.pk, size=path.stat().st_size)
    source = path.open("rb")
    chunks = iter(lambda: source.read(CHUNK), b"")
    return attachment(StreamBody(chunks, source.close), path.name, "application/x-tar", path.stat().st_size)


@requires("volume.import")
@require_http_methods(["GET", "POST"])
def volume_import(request: HttpRequest, eid: int) -> HttpResponse:
    """GET: the import form; POST: check the uploaded tar, then extract it into the volume (made first when
    missing) as a background job, whose page the person is sent to."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    form = ImportForm(request.POST or None, request.FILES or None, initial={"name": request.GET.get("name", "")})
    if request.method == "POST" and form.is_valid():
        name, archive = form.cleaned_data["name"], form.cleaned_data["archive"]
        if not can(request.user, endpoint, "volume.import", name) and service.exists(endpoint, name):
            record_denied(request, f"not allowed: volume.import into {name}", endpoint)  # someone else's volume
            raise PermissionDenied("not allowed: volume.import")
        try:  # refused here, whole, before anything is made or written
            transfer.check_archive(archive)
        except EngineError as exc:
            record(request, "volume.import", name, Activity.FAILURE, exc.message, endpoint, size=archive.size)
            form.add_error("archive", exc.message[:1].upper() + exc.message[1:] + ".")
        else:
            job = jobs.start_import(request, endpoint, name, archive)
            return redirect(job.get_absolute_url())
    status = 400 if form.is_bound else 200
    return render(request, "volumes/import.html", {"endpoint": endpoint, "form": form}, status=status)

