"""REST API for images: list, inspect, history, tag, remove, export; pull, push, build and import as jobs.

Routes (under /api/endpoints/<eid>/images/):

    GET    /                       the images, with tags, digests, size, created, used_by and update markers
    POST   /pull/                  {"image"} → 202 job (console/api/jobs.py: follow Location)
    POST   /build/                 multipart or JSON: text (Dockerfile), context (tar file), dockerfile, tags,
                                   buildargs, nocache, pull → 202 job
    POST   /load/                  multipart: archive (a docker save tar) → 202 job
    GET    /updates/               {tag: {"state", "text"}} for the pulled tags; POST /updates/ checks them now
    GET    /<image>/               the engine's inspect JSON (image: an ID or a reference; slashes allowed)
    DELETE /<image>/?force=true    remove (or untag, given a tag) → 200 {"removed": [...]}; in use → 409
    GET    /<image>/history/       the engine's history JSON
    POST   /<image>/tag/           {"target": "repo[:tag]"} → 201
    POST   /<image>/push/          {"tag"} (one of its tags) → 202 job
    GET    /<image>/export/        the image as a tar (docker save), streamed

Validation is the pages' own (console/images/forms.py), so the API and the pages agree; errors use
the console's shape (console/api/errors.py), the engine's refusals keep its words and status.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.accounts import policy
from console.api.containers import ERRORS, refused
from console.api.jobs import JobSerializer, accepted
from console.endpoints.client import endpoint_client
from console.endpoints.models import Endpoint
from console.images import listing, operations, updates
from console.images.forms import BuildForm, LoadForm, PullForm, PushForm, TagForm

TAGS = ["images"]
JOB_RESPONSES = {202: JobSerializer, **ERRORS}


class UsedBySerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    state = serializers.CharField()


class ImageSerializer(serializers.Serializer):
    id = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    digests = serializers.ListField(child=serializers.CharField(), help_text="repo@sha256:… it was pulled by")
    size = serializers.IntegerField()
    created = serializers.DateTimeField()
    used_by = UsedBySerializer(many=True)
    updates = serializers.DictField(child=serializers.CharField(),
                                    help_text="Per pulled tag: update | current | checking | error | unknown")


def form_errors(form: Any) -> ValidationError:
    return ValidationError({name: [str(e) for e in errors] for name, errors in form.errors.items()})


class ImagesAPIView(APIView):
    def endpoint(self) -> Endpoint:
        return get_object_or_404(Endpoint, pk=self.kwargs["eid"])


class ImageList(ImagesAPIView):
    required_action = {"GET": "image.view"}  # console/accounts/access.py; the rest of the images API: administrators
    @extend_schema(tags=TAGS, operation_id="images_list", summary="List images", parameters=[
        OpenApiParameter("q", str, description="Search tags, IDs and container names"),
        OpenApiParameter("untagged", bool, description="Include untagged images (default true)")],
        responses={200: ImageSerializer(many=True), **ERRORS})
    def get(self, request: Request, eid: int) -> Response:
        endpoint = self.endpoint()
        rows = policy.visible(request.user, endpoint, "image", operations.list_rows(endpoint), key=lambda r: r.id)
        marks = updates.markers(endpoint, rows)
        updates.request_checks(endpoint, list(marks))
        shown = listing.select(rows, request.query_params.get("q", ""),
                               dangling=request.query_params.get("untagged", "true").lower() not in ("0", "false", "no"))
        return Response([{**asdict(r), "used_by": [asdict(u) for u in r.used_by],
                          "updates": {t: marks[t].state for t in r.tags if t in marks}} for r in shown])


class ImagePull(ImagesAPIView):
    @extend_schema(tags=TAGS, operation_id="images_pull", summary="Pull an image (a job)",
                   request=inline_serializer("PullRequest", {"image": serializers.CharField()}), responses=JOB_RESPONSES)
    def post(self, request: Request, eid: int) -> Response:
        endpoint = self.endpoint()
        form = PullForm(data=request.data)
        if not form.is_valid():
            raise form_errors(form)
        return accepted(operations.start_pull(request, endpoint, form.cleaned_data["image"]))


BuildRequest = inline_serializer("BuildRequest", {
    "text": serializers.CharField(required=False, help_text="The Dockerfile; optional with a context that has one"),
    "context": serializers.FileField(required=False, help_text="A tar (plain or compressed) of the build context"),
    "dockerfile": serializers.CharField(required=False, help_text="Its path in the context (default Dockerfile)"),
    "tags": serializers.ListField(child=serializers.CharField(), required=False),
    "buildargs": serializers.DictField(child=serializers.CharField(), required=False),
    "nocache": serializers.BooleanField(required=False), "pull": serializers.BooleanField(required=False)})


def build_form_data(data: Any) -> dict[str, Any]:
    """The BuildForm's fields from JSON (tags as a list, buildargs as an object) or form data (as typed)."""
    out = {k: data.get(k) for k in ("text", "dockerfile", "nocache", "pull") if data.get(k) not in (None, "")}
    tags = data.getlist("tags") if hasattr(data, "getlist") else data.get("tags")
    out["tags"] = " ".join(tags) if isinstance(tags, list) else (tags or "")
    args = data.get("buildargs")
    out["buildargs"] = "\n".join(f"{k}={v}" for k, v in args.items()) if isinstance(args, dict) else (args or "")
    for flag in ("nocache", "pull"):
        if isinstance(out.get(flag), str):
            out[flag] = out[flag].lower() in ("1", "true", "yes", "on")
    return out


class ImageBuild(ImagesAPIView):
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(tags=TAGS, operation_id="images_build", summary="Build an image (a job)",
                   request={"multipart/form-data": BuildRequest, "application/json": BuildRequest}, responses=JOB_RESPONSES)
    def post(self, request: Request, eid: int) -> Response:
        endpoint = self.endpoint()
        form = BuildForm(data=build_form_data(request.data), files=request.FILES)
        if not form.is_valid():
            raise form_errors(form)
        return accepted(operations.start_build(request, endpoint, form.cleaned_data))


class ImageLoad(ImagesAPIView):
    parser_classes = [MultiPartParser]

    @extend_schema(tags=TAGS, operation_id="images_load", summary="Import images from a docker save archive (a job)",
                   request={"multipart/form-data": inline_serializer("LoadRequest", {"archive": serializers.FileField()})},
                   responses=JOB_RESPONSES)
    def post(self, request: Request, eid: int) -> Response:
        endpoint = self.endpoint()
        form = LoadForm(data=request.data, files=request.FILES)
        if not form.is_valid():
            raise form_errors(form)
        return accepted(operations.start_load(request, endpoint, form.cleaned_data["archive"]))


class ImageUpdates(ImagesAPIView):
    @extend_schema(tags=TAGS, operation_id="images_updates", summary="Update markers of the pulled tags",
                   responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request: Request, eid: int) -> Response:
        endpoint = self.endpoint()
        marks = updates.markers(endpoint, operations.list_rows(endpoint))
        return Response({tag: asdict(m) for tag, m in marks.items()})

    @extend_schema(tags=TAGS, operation_id="images_updates_check", summary="Check the pulled tags against their registries now",
                   request=None, responses={202: inline_serializer("UpdatesQueued", {"queued": serializers.ListField(child=serializers.CharField())}), **ERRORS})
    def post(self, request: Request, eid: int) -> Response:
        endpoint = self.endpoint()
        tags = list(updates.checkable(operations.list_rows(endpoint)))
        return Response({"queued": updates.request_checks(endpoint, tags, force=True)}, status=status.HTTP_202_ACCEPTED)


class ImageDetail(ImagesAPIView):
    required_action, required_resource = {"GET": "image.view"}, "image"
    @extend_schema(tags=TAGS, operation_id="images_inspect", summary="Inspect an image", responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request: Request, eid: int, image: str) -> Response:
        with endpoint_client(self.endpoint()) as client:
            return Response(client.api.inspect_image(image))

    @extend_schema(tags=TAGS, operation_id="images_remove", summary="Remove an image, or untag one of its tags",
                   parameters=[OpenApiParameter("force", bool)],
                   responses={200: inline_serializer("Removed", {"removed": serializers.ListField(child=serializers.DictField())}), **ERRORS})
    def delete(self, request: Request, eid: int, image: str) -> Response:
        force = request.query_params.get("force", "").lower() in ("1", "true", "yes", "on")
        try:
            return Response({"removed": operations.remove_image(request, self.endpoint(), image, force)})
        except operations.ImageRefused as exc:
            return refused(exc.message, exc.status)


class ImageHistory(ImagesAPIView):
    @extend_schema(tags=TAGS, operation_id="images_history", summary="An image's history", responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request: Request, eid: int, image: str) -> Response:
        with endpoint_client(self.endpoint()) as client:
            return Response(client.api.history(image))


class ImageTag(ImagesAPIView):
    @extend_schema(tags=TAGS, operation_id="images_tag", summary="Tag an image",
                   request=inline_serializer("TagRequest", {"target": serializers.CharField()}),
                   responses={201: inline_serializer("Tagged", {"tag": serializers.CharField()}), **ERRORS})
    def post(self, request: Request, eid: int, image: str) -> Response:
        form = TagForm(data=request.data)
        if not form.is_valid():
            raise form_errors(form)
        try:
            operations.tag_image(request, self.endpoint(), image, form.cleaned_data["target"])
        except operations.ImageRefused as exc:
            return refused(exc.message, exc.status, {"target": [exc.message]})
        return Response({"tag": form.cleaned_data["target"]}, status=status.HTTP_201_CREATED)


class ImagePush(ImagesAPIView):
    @extend_schema(tags=TAGS, operation_id="images_push", summary="Push one of an image's tags (a job)",
                   request=inline_serializer("PushRequest", {"tag": serializers.CharField()}), responses=JOB_RESPONSES)
    def post(self, request: Request, eid: int, image: str) -> Response:
        endpoint = self.endpoint()
        with endpoint_client(endpoint) as client:
            tags = tuple(client.api.inspect_image(image).get("RepoTags") or ())
        form = PushForm(data=request.data, tags=tags)
        if not form.is_valid():
            raise form_errors(form)
        return accepted(operations.start_push(request, endpoint, form.cleaned_data["tag"]))


class ImageExport(ImagesAPIView):
    @extend_schema(tags=TAGS, operation_id="images_export", summary="Export an image as a tar (docker save)",
                   responses={(200, "application/x-tar"): OpenApiTypes.BINARY, **ERRORS})
    def get(self, request: Request, eid: int, image: str) -> StreamingHttpResponse:
        chunks = operations.export_chunks(self.endpoint(), image)
        next(chunks)  # an unknown image fails here, as a JSON error
        raw = request._request
        body = operations.aiterate(chunks) if isinstance(raw, ASGIRequest) else chunks
        response = StreamingHttpResponse(body, content_type="application/x-tar")
        response["Content-Disposition"] = f'attachment; filename="{operations.export_filename(image)}"'
        return response


urlpatterns = [
    path("endpoints/<int:eid>/images/", ImageList.as_view(), name="api-images"),
    path("endpoints/<int:eid>/images/pull/", ImagePull.as_view(), name="api-images-pull"),
    path("endpoints/<int:eid>/images/build/", ImageBuild.as_view(), name="api-images-build"),
    path("endpoints/<int:eid>/images/load/", ImageLoad.as_view(), name="api-images-load"),
    path("endpoints/<int:eid>/images/updates/", ImageUpdates.as_view(), name="api-images-updates"),
    path("endpoints/<int:eid>/images/<path:image>/history/", ImageHistory.as_view(), name="api-image-history"),
    path("endpoints/<int:eid>/images/<path:image>/tag/", ImageTag.as_view(), name="api-image-tag"),
    path("endpoints/<int:eid>/images/<path:image>/push/", ImagePush.as_view(), name="api-image-push"),
    path("endpoints/<int:eid>/images/<path:image>/export/", ImageExport.as_view(), name="api-image-export"),
    path("endpoints/<int:eid>/images/<path:image>/", ImageDetail.as_view(), name="api-image"),
]
