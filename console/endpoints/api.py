"""/api/environments/: groups of endpoints — list, add, rename, change members, remove.

`endpoints` is the list of endpoint ids in the environment. Writing it sets the
membership: listed endpoints move into this environment (out of any other), and
endpoints no longer listed are left in no environment. Removing an environment
never removes its endpoints. Every change is recorded in the activity log, failures
included (the same shape as /api/endpoints/, console/api/endpoints.py).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from console.audit.log import record
from console.audit.models import Activity
from console.endpoints.models import Endpoint, Environment


class EnvironmentSerializer(serializers.ModelSerializer):
    """An environment and the ids of its endpoints."""

    endpoints = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=Endpoint.objects.all(),
                                                   help_text="Ids of the endpoints in this environment.")

    class Meta:
        model = Environment
        fields = ("id", "name", "description", "endpoints", "created_at")
        read_only_fields = ("id", "created_at")

    def validate_name(self, value: str) -> str:
        value = value.strip()
        clash = Environment.objects.filter(name__iexact=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise ValidationError(f"An environment named {clash.first()} exists already.")
        return value

    @transaction.atomic
    def create(self, validated_data: dict[str, Any]) -> Environment:
        members = validated_data.pop("endpoints", None)
        environment = Environment.objects.create(**validated_data)
        if members is not None:
            _set_members(environment, members)
        return environment

    @transaction.atomic
    def update(self, instance: Environment, validated_data: dict[str, Any]) -> Environment:
        members = validated_data.pop("endpoints", None)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        instance.save()
        if members is not None:
            _set_members(instance, members)
        return instance


def _set_members(environment: Environment, members: list[Endpoint]) -> None:
    ids = [e.pk for e in members]
    Endpoint.objects.filter(environment=environment).exclude(pk__in=ids).update(environment=None)
    Endpoint.objects.filter(pk__in=ids).update(environment=environment)


@extend_schema_view(
    list=extend_schema(summary="List environments"),
    create=extend_schema(summary="Add an environment"),
    retrieve=extend_schema(summary="Show an environment"),
    update=extend_schema(summary="Change an environment (and its endpoints)"),
    partial_update=extend_schema(summary="Change some of an environment's fields"),
    destroy=extend_schema(summary="Remove an environment (its endpoints stay, in no environment)"),
)
class EnvironmentViewSet(viewsets.ModelViewSet):
    """CRUD for environments; every change is audited."""

    serializer_class = EnvironmentSerializer
    queryset = Environment.objects.prefetch_related("endpoints")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._audited("environment.create", str(request.data.get("name", "")),
                             lambda: super(EnvironmentViewSet, self).create(request, *args, **kwargs))

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        name = self.get_object().name
        return self._audited("environment.update", name, lambda: super(EnvironmentViewSet, self).update(request, *args, **kwargs))

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        environment = serializer.save()
        record(self.request, "environment.create", environment.name, Activity.SUCCESS, "", None,
               endpoints=[e.name for e in environment.endpoints.all()], via="api")

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        changed = sorted(serializer.validated_data)
        environment = serializer.save()
        record(self.request, "environment.update", environment.name, Activity.SUCCESS, "", None, changed=changed,
               endpoints=[e.name for e in environment.endpoints.all()], via="api")

    def perform_destroy(self, instance: Environment) -> None:
        name, members = instance.name, [e.name for e in instance.endpoints.all()]
        instance.delete()
        record(self.request, "environment.delete", name, Activity.SUCCESS, "", None, endpoints=members, via="api")

    def _audited(self, action_name: str, target: str, call: Any) -> Response:
        """Run a create/update; invalid input is recorded as a failure before the 400 goes out."""
        try:
            return call()
        except ValidationError as exc:
            fields = sorted(exc.detail) if isinstance(exc.detail, dict) else []
            record(self.request, action_name, target, Activity.FAILURE, "invalid input: " + ", ".join(fields), None,
                   fields=fields, via="api")
            raise


router = SimpleRouter()
router.register("environments", EnvironmentViewSet, basename="api-environment")
urlpatterns = router.urls
