"""REST API for containers: list, create (validated by the create form's code), inspect, remove, act, spec.

Routes (under /api/endpoints/<eid>/containers/):

    GET    /                      the containers, ?q=&state=&health=&sort=&dir= as on the list page
    POST   /                      create and start from a spec (201 {id, name, warnings})
    GET    /<cid>/                the engine's inspect JSON
    DELETE /<cid>/?force=true     remove (force: stop a running one first)
    POST   /<cid>/<action>/       start | stop | kill | restart | pause | unpause (204)
    GET    /<cid>/spec/           the spec the console kept for it (404 when it was made elsewhere)

Errors have the console's one shape, {"error": {"status", "message", "fields"?}}
(console/api/errors.py); the engine's refusals keep its message and status
(404, 409, …; 502 when it cannot be reached). Every change is audited
(console/containers/operations.py); refusals of non-administrators by console/api/errors.py.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.accounts import policy
from console.containers import listing
from console.containers.specforms import SpecForms, engine_error_field
from console.containers.models import ContainerSpec
from console.containers.operations import ActionResult, EngineRefused, create_and_record, list_rows, run_actions
from console.endpoints.client import endpoint_client
from console.endpoints.models import Endpoint

API_ACTIONS = ("start", "stop", "kill", "restart", "pause", "unpause")
TAGS = ["containers"]

ErrorSerializer = inline_serializer("Error", {"error": inline_serializer("ErrorBody", {
    "status": serializers.IntegerField(), "message": serializers.CharField(),
    "fields": serializers.DictField(required=False, help_text="Per-field errors, shaped like the request"),
})})
ERRORS = {code: OpenApiResponse(ErrorSerializer, description=text) for code, text in (
    (400, "Invalid input; `fields` says where"), (401, "Not signed in (session or token)"),
    (403, "Not allowed: your role on the endpoint or the resource's owner, or its security settings"), (404, "No such endpoint or container"), (409, "The engine refused: a conflict"),
    (502, "The engine cannot be reached"))}


class PortSerializer(serializers.Serializer):
    private = serializers.IntegerField()
    proto = serializers.CharField()
    public = serializers.IntegerField(help_text="0 when only exposed")
    host_ip = serializers.CharField()
    url = serializers.CharField(help_text="Where a browser opens it; empty for udp and unreachable bindings")


class ContainerSummarySerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    image = serializers.CharField()
    state = serializers.ChoiceField(choices=listing.STATES)
    status = serializers.CharField(help_text="The engine's status text, e.g. 'Up 5 minutes (healthy)'")
    health = serializers.ChoiceField(choices=listing.HEALTHS)
    created = serializers.DateTimeField()
    ports = PortSerializer(many=True)
    labels = serializers.DictField(child=serializers.CharField())
    has_spec = serializers.BooleanField(help_text="The console keeps the spec it was created from (GET …/spec/)")


def _text(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, **kwargs)


def _number() -> serializers.IntegerField:
    return serializers.IntegerField(required=False, allow_null=True)


class NameValueSerializer(serializers.Serializer):
    name = _text()
    value = _text()


class PortRowSerializer(serializers.Serializer):
    host_ip = _text(help_text="Empty: all addresses")
    host_port = _text(help_text="A port or range (8000-8010); empty: any free port")
    container_port = _text(help_text="A port or range (80 or 80-81)")
    protocol = serializers.ChoiceField(choices=("tcp", "udp", "sctp"), required=False)


class VolumeRowSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=("volume", "bind", "tmpfs"), required=False)
    source = _text(help_text="Volume name (empty: anonymous) or absolute host path for bind")
    target = _text(help_text="Absolute path in the container")
    read_only = serializers.BooleanField(required=False)


class ContainerSpecSerializer(serializers.Serializer):
    """A container spec, as the create form takes it (console/containers/specs.py); checked by the form's code."""

    image = serializers.CharField(trim_whitespace=False)
    name = _text()
    command = _text(help_text="Split like a shell would")
    entrypoint = _text()
    working_dir = _text()
    user = _text()
    env = NameValueSerializer(many=True, required=False)
    env_file = _text(help_text="The text of a .env file; `env` rows win")
    ports = PortRowSerializer(many=True, required=False)
    volumes = VolumeRowSerializer(many=True, required=False)
    network = _text()
    aliases = _text(help_text="Comma-separated network aliases (user-defined networks)")
    restart_policy = serializers.ChoiceField(choices=("no", "always", "unless-stopped", "on-failure"), required=False)
    max_retries = _number()
    memory = _text(help_text="e.g. 256m, 1g")
    cpu_shares = _number()
    cpus = _text(help_text="e.g. 0.5")
    blkio_weight = _number()
    pids_limit = _number()
    labels = NameValueSerializer(many=True, required=False)
    health_command = _text()
    health_interval = _text(help_text="e.g. 30s, 1m30s")
    health_timeout = _text()
    health_retries = _number()
    health_start_period = _text()
    no_healthcheck = serializers.BooleanField(required=False)
    privileged = serializers.BooleanField(required=False, help_text="Refused to non-administrators by the endpoint's security settings")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields)) if isinstance(self.initial_data, dict) else []
        if unknown:
            raise ValidationError({k: ["unknown field"] for k in unknown})
        return attrs


CreatedSerializer = inline_serializer("CreatedContainer", {
    "id": serializers.CharField(), "name": serializers.CharField(), "warnings": serializers.ListField(child=serializers.CharField()),
})


class KeptSpecSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default="", read_only=True)
    spec = ContainerSpecSerializer()

    class Meta:
        model = ContainerSpec
        fields = ("container_id", "name", "spec", "created_by", "created_at", "updated_at")


def refused(message: str, code: int | None, fields: dict[str, Any] | None = None) -> Response:
    """The console's error shape for an engine refusal: its status when it is a client error, else 502."""
    code = code if code and 400 <= code < 500 else 502
    body: dict[str, Any] = {"status": code, "message": message}
    if fields:
        body["fields"] = fields
    return Response({"error": body}, status=code)


def _result_response(result: ActionResult) -> Response:
    return Response(status=status.HTTP_204_NO_CONTENT) if result.ok else refused(result.message, result.status)


class ContainerAPIView(APIView):
    """Base: finds the endpoint. Refusals (401/403) are answered and audited by console/api/errors.py."""

    def endpoint(self) -> Endpoint:
        return get_object_or_404(Endpoint, pk=self.kwargs["eid"])


LIST_PARAMS = [
    OpenApiParameter("q", str, description="Search names, images, IDs and labels"),
    OpenApiParameter("state", str, enum=list(listing.STATES)),
    OpenApiParameter("health", str, enum=list(listing.HEALTHS)),
    OpenApiParameter("sort", str, enum=list(listing.SORT_KEYS)),
    OpenApiParameter("dir", str, enum=["asc", "desc"]),
]


class ContainerList(ContainerAPIView):
    required_action = {"GET": "container.view", "POST": "container.create"}  # console/accounts/access.py
    @extend_schema(tags=TAGS, operation_id="containers_list", summary="List containers", parameters=LIST_PARAMS,
                   responses={200: ContainerSummarySerializer(many=True), **ERRORS})
    def get(self, request: Request, eid: int) -> Response:
        endpoint = self.endpoint()
        kept = set(ContainerSpec.objects.filter(endpoint=endpoint).values_list("container_id", flat=True))
        mine = policy.visible(request.user, endpoint, "container", list_rows(endpoint), key=lambda r: r.id)
        rows = listing.select(mine, listing.Query.from_params(request.query_params))
        data = [{**asdict(r), "has_spec": r.id in kept} for r in rows]
        return Response(ContainerSummarySerializer(data, many=True).data)

    @extend_schema(tags=TAGS, operation_id="containers_create", summary="Create and start a container", request=ContainerSpecSerializer,
                   responses={201: CreatedSerializer, **ERRORS})
    def post(self, request: Request, eid: int) -> Response:
        endpoint = self.endpoint()
        incoming = ContainerSpecSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        bundle = SpecForms.from_spec(incoming.validated_data)
        if not bundle.is_valid():
            raise ValidationError(bundle.field_errors())
        try:
            created = create_and_record(request, endpoint, bundle.spec())
        except EngineRefused as exc:
            field = engine_error_field(exc.message)
            return refused(exc.message, exc.status, {field: [exc.message]} if field else None)
        return Response({"id": created.id, "name": created.name, "warnings": created.warnings}, status=201)


class ContainerDetail(ContainerAPIView):
    required_action, required_resource = {"GET": "container.inspect", "DELETE": "container.remove"}, "cid"
    @extend_schema(tags=TAGS, operation_id="containers_inspect", summary="Inspect a container", responses={200: OpenApiTypes.OBJECT, **ERRORS})
    def get(self, request: Request, eid: int, cid: str) -> Response:
        with endpoint_client(self.endpoint()) as client:
            return Response(client.api.inspect_container(cid))

    @extend_schema(tags=TAGS, operation_id="containers_remove", summary="Remove a container",
                   parameters=[OpenApiParameter("force", bool, description="Stop it first when it runs")],
                   responses={204: None, **ERRORS})
    def delete(self, request: Request, eid: int, cid: str) -> Response:
        force = request.query_params.get("force", "").lower() in ("1", "true", "yes", "on")
        return _result_response(run_actions(request, self.endpoint(), [cid], "remove", force)[0])


class ContainerAction(ContainerAPIView):
    required_action, required_resource = "container.{action}", "cid"
    @extend_schema(tags=TAGS, operation_id="containers_action", summary="Start, stop, kill, restart, pause or unpause a container",
                   parameters=[OpenApiParameter("action", str, OpenApiParameter.PATH, enum=list(API_ACTIONS))],
                   request=None, responses={204: None, **ERRORS})
    def post(self, request: Request, eid: int, cid: str, action: str) -> Response:
        endpoint = self.endpoint()
        if action not in API_ACTIONS:
            return refused(f"unknown action {action!r}: use one of {', '.join(API_ACTIONS)}", 404)
        return _result_response(run_actions(request, endpoint, [cid], action)[0])


class ContainerSpecView(ContainerAPIView):
    required_action, required_resource = "container.inspect", "cid"
    @extend_schema(tags=TAGS, operation_id="containers_spec", summary="The spec the console kept for a container",
                   responses={200: KeptSpecSerializer, **ERRORS})
    def get(self, request: Request, eid: int, cid: str) -> Response:
        kept = ContainerSpec.find(self.endpoint(), cid)
        if kept is None:
            return refused(f"no spec kept for {cid}: it was not created through the console", 404)
        return Response(KeptSpecSerializer(kept).data)
