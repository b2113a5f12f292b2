"""/api/endpoints/: the engines the console manages — list, add, change, remove, status, test.

The TLS key is write-only: it is accepted on create and update and never returned
(`has_tls_key` says whether one is stored). On update, an empty or missing key keeps
the stored one while a certificate remains; clearing the certificate clears the key
(console.endpoints.tls.merge_tls). The local endpoint's name and URL are fixed and
it cannot be removed (409). Every change is recorded in the activity log, failures
included.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework import status as http_status
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from console.audit.log import record
from console.audit.models import Activity
from console.endpoints.health import probe
from console.endpoints.models import Endpoint
from console.endpoints.tls import merge_tls, tls_errors

LOCAL_FIXED = "The local endpoint's name and URL follow the BERTH_ENGINE_HOST setting; they cannot be changed here."
LOCAL_PERMANENT = "The local endpoint is the engine on this host; it cannot be removed."


class Conflict(APIException):
    status_code = http_status.HTTP_409_CONFLICT
    default_detail = "conflict"


class EndpointSerializer(serializers.ModelSerializer):
    """An endpoint as the API shows and accepts it; `tls_key` only goes in."""

    tls_key = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=False,
                                    style={"base_template": "textarea.html"},
                                    help_text="PEM private key of the client certificate. Write-only: never returned.")
    has_tls_key = serializers.SerializerMethodField(help_text="Whether a TLS key is stored.")

    class Meta:
        model = Endpoint
        fields = ("id", "name", "url", "tls_ca", "tls_cert", "tls_key", "has_tls_key", "uses_tls", "is_local", "created_at")
        read_only_fields = ("id", "uses_tls", "is_local", "created_at")
        extra_kwargs: dict[str, dict[str, Any]] = {
            "url": {"help_text": "unix:///path/to/engine.sock or tcp://host:port"},
            "tls_ca": {"help_text": "PEM certificate of the CA that signed the engine's certificate."},
            "tls_cert": {"help_text": "PEM client certificate (mutual TLS)."},
        }

    def get_has_tls_key(self, endpoint: Endpoint) -> bool:
        return bool(endpoint.tls_key)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        current = self.instance
        if current is not None and current.is_local:
            fixed = {f: LOCAL_FIXED for f in ("name", "url") if f in attrs and attrs[f] != getattr(current, f)}
            if fixed:
                raise ValidationError(fixed)

        def value(name: str) -> str:
            return attrs[name] if name in attrs else (getattr(current, name) if current is not None else "")

        stored_key = current.tls_key if current is not None else ""
        ca, cert, key = merge_tls(stored_key, value("tls_ca"), value("tls_cert"), attrs.get("tls_key", ""))
        errors = tls_errors(value("url"), ca, cert, key)
        if errors:
            raise ValidationError(errors)
        return {**attrs, "tls_ca": ca, "tls_cert": cert, "tls_key": key}


class EndpointStatusSerializer(serializers.Serializer):
    """What a probe of the endpoint's engine found (`error` is empty when it answered)."""

    endpoint = serializers.IntegerField(allow_null=True)
    reachable = serializers.BooleanField()
    error = serializers.CharField(allow_blank=True)
    platform = serializers.CharField(allow_blank=True)
    version = serializers.CharField(allow_blank=True)
    api_version = serializers.CharField(allow_blank=True)
    os = serializers.CharField(allow_blank=True)
    arch = serializers.CharField(allow_blank=True)
    hostname = serializers.CharField(allow_blank=True)
    containers = serializers.IntegerField()
    containers_running = serializers.IntegerField()
    containers_paused = serializers.IntegerField()
    containers_stopped = serializers.IntegerField()
    images = serializers.IntegerField()
    volumes = serializers.IntegerField()
    networks = serializers.IntegerField()
    cpus = serializers.IntegerField()
    memory = serializers.IntegerField(help_text="bytes")


class EndpointTestSerializer(EndpointSerializer):
    """An unsaved endpoint to try: the same fields, but the name need not be given nor be unique."""

    class Meta(EndpointSerializer.Meta):
        extra_kwargs = {**EndpointSerializer.Meta.extra_kwargs, "name": {"required": False, "validators": []}}


@extend_schema_view(
    list=extend_schema(summary="List endpoints"),
    create=extend_schema(summary="Add an endpoint"),
    retrieve=extend_schema(summary="Show an endpoint"),
    update=extend_schema(summary="Change an endpoint"),
    partial_update=extend_schema(summary="Change some of an endpoint's fields"),
    destroy=extend_schema(summary="Remove an endpoint (not the local one)"),
)
class EndpointViewSet(viewsets.ModelViewSet):
    """CRUD for endpoints, plus `status` (probe one) and `test` (probe an unsaved one)."""

    serializer_class = EndpointSerializer
    queryset = Endpoint.objects.all()

    def get_queryset(self) -> QuerySet[Endpoint]:
        return Endpoint.objects.all()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._audited("endpoint.create", request.data.get("name", ""), lambda: super(EndpointViewSet, self).create(request, *args, **kwargs))

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        endpoint = self.get_object()
        return self._audited("endpoint.update", endpoint.name, lambda: super(EndpointViewSet, self).update(request, *args, **kwargs), endpoint)

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        endpoint = serializer.save()
        record(self.request, "endpoint.create", endpoint.name, Activity.SUCCESS, "", endpoint, url=endpoint.url, tls=endpoint.uses_tls, via="api")

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        before = serializer.instance
        changed = sorted(k for k, v in serializer.validated_data.items() if getattr(before, k) != v)
        endpoint = serializer.save()
        record(self.request, "endpoint.update", endpoint.name, Activity.SUCCESS, "", endpoint, changed=changed, via="api")

    def perform_destroy(self, instance: Endpoint) -> None:
        if instance.is_local:
            record(self.request, "endpoint.delete", instance.name, Activity.FAILURE, LOCAL_PERMANENT, instance, via="api")
            raise Conflict(LOCAL_PERMANENT)
        name = instance.name
        instance.delete()
        record(self.request, "endpoint.delete", name, Activity.SUCCESS, "", name, via="api")

    def _audited(self, action_name: str, target: str, call: Any, endpoint: Endpoint | None = None) -> Response:
        """Run a create/update; invalid input is recorded as a failure before the 400 goes out."""
        try:
            return call()
        except ValidationError as exc:
            fields = sorted(exc.detail) if isinstance(exc.detail, dict) else []
            message = "invalid input: " + ", ".join(fields) if fields else "invalid input"
            record(self.request, action_name, str(target), Activity.FAILURE, message, endpoint, fields=fields, via="api")
            raise

    @extend_schema(responses=EndpointStatusSerializer, summary="Probe the endpoint's engine")
    @action(detail=True, methods=["get"])
    def status(self, request: Request, pk: str | None = None) -> Response:
        return Response(probe(self.get_object()).as_dict())

    @extend_schema(request=EndpointTestSerializer, responses=EndpointStatusSerializer,
                   summary="Probe an engine before saving it as an endpoint")
    @action(detail=False, methods=["post"], serializer_class=EndpointTestSerializer)
    def test(self, request: Request) -> Response:
        serializer = EndpointTestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        unsaved = Endpoint(name=data.get("name") or "test", url=data["url"], tls_ca=data["tls_ca"],
                           tls_cert=data["tls_cert"], tls_key=data["tls_key"])
        result = probe(unsaved).as_dict()
        result["endpoint"] = None
        return Response(result)


router = SimpleRouter()
router.register("endpoints", EndpointViewSet, basename="api-endpoint")
urlpatterns = router.urls
