"""REST API for volumes: list, create, inspect, remove, prune; files (list, download); export and import a tar.

Routes (under /api/endpoints/<eid>/volumes/):

    GET    /                          the volumes with the containers that use them; ?sizes=1 adds each one's size
    POST   /                          create: {name, driver, options: {}, labels: {}} → 201 {"name"}
    POST   /prune/                    remove every unused volume → {"removed": [...], "reclaimed": bytes}
    GET    /<name>/                   one volume, with the containers that use it
    DELETE /<name>/?force=true        remove (409 while a container uses it)
    GET    /<name>/files/?path=/dir   {"path", "entries": [{name, path, kind, size, modified}], "truncated"}
    GET    /<name>/files/download/?path=/file   the file, streamed
    GET    /<name>/export/            the volume as a tar, streamed
    POST   /<name>/export/            export as a background job → 202 job (console/api/jobs.py); when it succeeded,
                                      its result's "download" is GET /exports/<job id>/ (the requester and administrators)
    GET    /exports/<job id>/         the tar an export job wrote, while it is kept (BERTH_EXPORT_RETENTION_HOURS)
    POST   /<name>/import/            multipart "archive" (tar or tar.gz) → {"members", "bytes"}; the volume is made if missing;
                                      ?background=1: the archive is checked, then imported by a job → 202 job
    POST   /prune/?background=1       the prune as a job → 202 job

As in Docker's API, POST /prune/ prunes while GET and DELETE on /prune/ reach a
volume named "prune". Validation is the pages' forms' (console/volumes/forms.py);
errors have the console's one shape; changes, exports and downloads are audited.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.accounts import policy
from console.api.containers import ERRORS, refused
from console.api.networks import form_errors
from console.accounts.access import is_console_admin
from console.audit.log import record
from console.audit.models import Activity
from console.endpoints.client import EngineError
from console.endpoints.models import Endpoint
from console.networks.fields import key_values_text
from console.api.jobs import JobSerializer, accepted
from console.jobs.models import Job
from console.volumes import browse, exports, service, transfer
from console.volumes import jobs as volume_jobs
from console.volumes.forms import ImportForm, VolumeForm
from console.volumes.streaming import StreamBody, attachment

TAGS = ["volumes"]
BACKGROUND = OpenApiParameter("background", OpenApiTypes.BOOL,
                              description="Run it as a background job: answer 202 with the job (follow its Location)")


def background(request: Request) -> bool:
    return request.query_params.get("background", "").lower() in ("1", "true", "yes")
PATH_PARAM = OpenApiParameter("path", str, description="A path in the volume, e.g. /logs/app.log")


class UserSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    state = serializers.CharField()
    destination = serializers.CharField(help_text="Where the container mounts the volume")
    read_only = serializers.BooleanField()


class VolumeSerializer(serializers.Serializer):
    name = serializers.CharField()
    driver = serializers.CharField()
    mountpoint = serializers.CharField(help_text="On the engine's host")
    created = serializers.DateTimeField(allow_null=True)
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True))
    options = serializers.DictField(child=serializers.CharField(allow_blank=True))
    used_by = UserSerializer(many=True)
    size = serializers.IntegerField(required=False, help_text="Bytes (with ?sizes=1); -1 when the engine did not say")


class VolumeCreateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, help_text="Empty: the engine picks one")
    driver = serializers.CharField(required=False)
    options = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)


class EntrySerializer(serializers.Serializer):
    name = serializers.CharField()
    path = serializers.CharField()
    kind = serializers.ChoiceField(choices=("dir", "file", "link", "other"))
    size = serializers.IntegerField()
    modified = serializers.DateTimeField()


class VolumesAPIView(APIView):
    def endpoint(self) -> Endpoint:
        return get_object_or_404(Endpoint, pk=self.kwargs["eid"])


class VolumeList(VolumesAPIView):
    required_action = {"GET": "volume.view", "POST": "volume.create"}  # console/accounts/access.py
    @extend_schema(tags=TAGS, operation_id="volumes_list", summary="List volumes",
                   parameters=[OpenApiParameter("sizes", OpenApiTypes.BOOL, description="Measure sizes (slower)")],
                   responses={200: VolumeSerializer(many=True), **ERRORS})
    def get(self, request: Request, eid: int) -> Response:
        endpoint = self.endpoint()
        mine = policy.visible(request.user, endpoint, "volume", service.list_volumes(endpoint), key=lambda v: v.name)
        rows = [asdict(v) for v in mine]
        if request.query_params.get("sizes") in ("1", "true", "yes"):
            sizes = service.sizes(endpoint)
            for r in rows:
                r["size"] = sizes.get(r["name"], -1)
        return Response(VolumeSerializer(rows, many=True).data)

    @extend_schema(tags=TAGS, operation_id="volumes_create", summary="Create a volume", request=VolumeCreateSerializer,
                   responses={201: inline_serializer("CreatedVolume", {"name": serializers.CharField()}), **ERRORS})
    def post(self, request: Request, eid: int) -> Response:
        endpoint = self.endpoint()
        incoming = VolumeCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        d = incoming.validated_data
        form = VolumeForm({"name": d.get("name", ""), "driver": d.get("driver") or "local",
                           "options": key_values_text(d.get("options")), "labels": key_values_text(d.get("labels"))},
                          endpoint=endpoint)
        if not form.is_valid():
            raise form_errors(form)
        c = form.cleaned_data
        try:
            name = service.create_volume(request, endpoint, c["name"], c["driver"], c["options"], c["labels"])
        except EngineError as exc:
            form.add_engine_error(exc.message)
            return refused(exc.message, exc.status, {k: [str(e) for e in v] for k, v in form.errors.items() if k != "__all__"})
        return Response({"name": name}, status=201)


class VolumeDetail(VolumesAPIView):
    required_action, required_resource = {"GET": "volume.view", "DELETE": "volume.remove"}, "name"
    @extend_schema(tags=TAGS, operation_id="volumes_inspect", summary="A volume and the containers that use it",
                   responses={200: VolumeSerializer, **ERRORS})
    def get(self, request: Request, eid: int, name: str) -> Response:
        return Response(VolumeSerializer(asdict(service.get_volume(self.endpoint(), name))).data)

    @extend_schema(tags=TAGS, operation_id="volumes_remove", summary="Remove a volume",
                   parameters=[OpenApiParameter("force", OpenApiTypes.BOOL)], responses={204: None, **ERRORS})
    def delete(self, request: Request, eid: int, name: str) -> Response:
        force = request.query_params.get("force", "").lower() in ("1", "true", "yes")
        service.remove_volume(request, self.endpoint(), name, force=force)
        return Response(status=204)

    @extend_schema(tags=TAGS, operation_id="volumes_prune", summary="Remove every unused volume (POST /prune/)", request=None,
                   parameters=[BACKGROUND], responses={202: JobSerializer, 200: inline_serializer("PrunedVolumes", {"removed": serializers.ListField(child=serializers.CharField()),
                                                                       "reclaimed": serializers.IntegerField()}), **ERRORS})
    def post(self, request: Request, eid: int, name: str) -> Response:
        if name != "prune":
            return refused(f"POST is only for /volumes/prune/ (got /volumes/{name}/)", 405)
        if background(request):
            return accepted(volume_jobs.start_prune(request, self.endpoint()))
        removed, reclaimed = service.prune_volumes(request, self.endpoint())
        return Response({"removed": removed, "reclaimed": reclaimed})


class VolumeFiles(VolumesAPIView):
    @extend_schema(tags=TAGS, operation_id="volumes_files", summary="List a directory of a volume (read-only)",
                   parameters=[PATH_PARAM], responses={200: inline_serializer("VolumeListing", {
                       "path": serializers.CharField(), "entries": EntrySerializer(many=True),
                       "truncated": serializers.BooleanField()}), **ERRORS})
    def get(self, request: Request, eid: int, name: str) -> Response:
        try:
            listing = browse.list_dir(self.endpoint(), name, request.query_params.get("path", "/"))
        except ValueError as exc:
            return refused(str(exc), 400, {"path": [str(exc)]})
        return Response({"path": listing.path, "entries": EntrySerializer([asdict(e) for e in listing.entries], many=True).data,
                         "truncated": listing.truncated})


class VolumeDownload(VolumesAPIView):
    @extend_schema(tags=TAGS, operation_id="volumes_download", summary="Download one file of a volume",
                   parameters=[PATH_PARAM], responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, **ERRORS})
    def get(self, request: Request, eid: int, name: str) -> HttpResponse | Response:
        endpoint = self.endpoint()
        where = f"{name}:{request.query_params.get('path', '')}"[:255]
        try:
            download = browse.open_file(endpoint, name, request.query_params.get("path", ""))
        except ValueError as exc:
            return refused(str(exc), 400, {"path": [str(exc)]})
        except EngineError as exc:
            record(request, "volume.download", where, Activity.FAILURE, exc.message, endpoint)
            raise
        record(request, "volume.download", where, Activity.SUCCESS, "", endpoint, size=download.size)
        return attachment(StreamBody(download.chunks, download.close), download.name, "application/octet-stream", download.size)


class VolumeExport(VolumesAPIView):
    @extend_schema(tags=TAGS, operation_id="volumes_export", summary="Export a volume as a tar (streamed)",
                   responses={(200, "application/x-tar"): OpenApiTypes.BINARY, **ERRORS})
    def get(self, request: Request, eid: int, name: str) -> HttpResponse:
        endpoint = self.endpoint()
        try:
            session = transfer.open_export(endpoint, name)
        except EngineError as exc:
            record(request, "volume.export", name, Activity.FAILURE, exc.message, endpoint)
            raise
        record(request, "volume.export", name, Activity.SUCCESS, "", endpoint)
        filename = f"{name}-{timezone.now():%Y%m%d-%H%M%S}.tar"
        return attachment(StreamBody(session.stream("exporting the volume"), session.close), filename, "application/x-tar")

    @extend_schema(tags=TAGS, operation_id="volumes_export_job", request=None, responses={202: JobSerializer, **ERRORS},
                   summary="Export a volume as a background job; its result's `download` fetches the tar")
    def post(self, request: Request, eid: int, name: str) -> Response:
        endpoint = self.endpoint()
        service.get_volume(endpoint, name)  # 404 in the one error shape before a job is made
        return accepted(volume_jobs.start_export(request, endpoint, name))


class VolumeExportFile(VolumesAPIView):
    @extend_schema(tags=TAGS, operation_id="volumes_export_file", summary="The tar a volume export job wrote (while it is kept)",
                   responses={(200, "application/x-tar"): OpenApiTypes.BINARY, **ERRORS})
    def get(self, request: Request, eid: int, job_id: int) -> HttpResponse | Response:
        job = Job.objects.filter(pk=job_id, kind=exports.EXPORT_KIND, endpoint_id=eid).first()
        if job is None or (job.user_id != request.user.pk and not is_console_admin(request.user)):
            return refused("no such export", 404)
        path = exports.export_file(job)
        if path is None:
            return refused("the export's file is gone (kept for a while after the job ends) or the job did not succeed", 410
                           if job.state == Job.SUCCEEDED else 409)
        record(request, "volume.export.download", job.params.get("name", ""), Activity.SUCCESS, "", job.endpoint_name, job=job.pk)
        source = path.open("rb")
        return attachment(StreamBody(iter(lambda: source.read(1 << 20), b""), source.close), path.name, "application/x-tar",
                          path.stat().st_size)


class VolumeImport(VolumesAPIView):
    parser_classes = (MultiPartParser,)

    @extend_schema(tags=TAGS, operation_id="volumes_import", summary="Import a tar into a volume (made if missing)",
                   request={"multipart/form-data": inline_serializer("VolumeImportUpload", {"archive": serializers.FileField()})},
                   parameters=[BACKGROUND], responses={202: JobSerializer, 200: inline_serializer("Imported", {"members": serializers.IntegerField(),
                                                                  "bytes": serializers.IntegerField()}), **ERRORS})
    def post(self, request: Request, eid: int, name: str) -> Response:
        form = ImportForm({"name": name}, request.FILES)
        if not form.is_valid():
            raise form_errors(form)
        if background(request):
            return self.start_job(request, name, form.cleaned_data["archive"])
        try:
            done = service.import_archive(request, self.endpoint(), name, form.cleaned_data["archive"])
        except EngineError as exc:
            if exc.status == 400:  # the archive itself
                return refused(exc.message, 400, {"archive": [exc.message]})
            raise
        return Response(asdict(done))

    def start_job(self, request: Request, name: str, archive: Any) -> Response:
        """Check the archive whole (refused: 400 on "archive", nothing made), then queue its import."""
        try:
            transfer.check_archive(archive)
        except EngineError as exc:
            record(request, "volume.import", name, Activity.FAILURE, exc.message, self.endpoint(), size=archive.size)
            return refused(exc.message, 400, {"archive": [exc.message]})
        return accepted(volume_jobs.start_import(request, self.endpoint(), name, archive))


def _detail_routes() -> list[Any]:
    base = "endpoints/<int:eid>/volumes/<str:name>/"
    return [
        path(base, VolumeDetail.as_view(), name="api-volume"),
        path(base + "files/", VolumeFiles.as_view(), name="api-volume-files"),
        path(base + "files/download/", VolumeDownload.as_view(), name="api-volume-download"),
        path(base + "export/", VolumeExport.as_view(), name="api-volume-export"),
        path(base + "import/", VolumeImport.as_view(), name="api-volume-import"),
        path("endpoints/<int:eid>/volumes/exports/<int:job_id>/", VolumeExportFile.as_view(), name="api-volume-export-file"),
    ]


urlpatterns = [path("endpoints/<int:eid>/volumes/", VolumeList.as_view(), name="api-volumes"), *_detail_routes()]
