"""A volume's files (browse read-only, download one), export as a tar, import a tar — as pages.

Downloads and exports stream: the response reads the helper container's output
as the browser takes it (console/volumes/streaming.py) and the helper is
removed when the response ends. Import runs while the request waits; the work
itself is console/volumes/transfer.py, which a background job can call as it is.
Exports and downloads are recorded in the activity log like changes: they take
data off the engine.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from console.accounts.access import admin_required
from console.audit.log import record
from console.audit.models import Activity
from console.endpoints.client import EngineError
from console.endpoints.models import Endpoint
from console.volumes import browse, service, transfer
from console.volumes.forms import ImportForm
from console.volumes.streaming import StreamBody, attachment


@admin_required
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


@admin_required
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


@admin_required
@require_GET
def volume_export(request: HttpRequest, eid: int, name: str) -> HttpResponse:
    """The whole volume as a tar, streamed."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    try:
        session = transfer.open_export(endpoint, name)
    except EngineError as exc:
        record(request, "volume.export", name, Activity.FAILURE, exc.message, endpoint)
        messages.error(request, f"Could not export {name}: {exc.message}")
        return redirect("volumes:list", eid=eid) if exc.status == 404 else redirect("volumes:detail", eid=eid, name=name)
    record(request, "volume.export", name, Activity.SUCCESS, "", endpoint)
    filename = f"{name}-{timezone.now():%Y%m%d-%H%M%S}.tar"
    return attachment(StreamBody(session.stream("exporting the volume"), session.close), filename, "application/x-tar")


@admin_required
@require_http_methods(["GET", "POST"])
def volume_import(request: HttpRequest, eid: int) -> HttpResponse:
    """GET: the import form; POST: extract the uploaded tar into the volume (made first when it does not exist)."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    form = ImportForm(request.POST or None, request.FILES or None, initial={"name": request.GET.get("name", "")})
    if request.method == "POST" and form.is_valid():
        name, archive = form.cleaned_data["name"], form.cleaned_data["archive"]
        try:
            done = service.import_archive(request, endpoint, name, archive)
        except EngineError as exc:
            field = "archive" if exc.status == 400 else None
            form.add_error(field, exc.message[:1].upper() + exc.message[1:] + ".")
        else:
            messages.success(request, f"Imported {done.members} entr{'y' if done.members == 1 else 'ies'} "
                                      f"({filesizeformat(archive.size)}) into {name}.")
            return redirect("volumes:detail", eid=eid, name=name)
    status = 400 if form.is_bound else 200
    return render(request, "volumes/import.html", {"endpoint": endpoint, "form": form}, status=status)

