"""/api/registries/: registry credentials used for pulls and pushes — list, add, change, remove, test login.

The password (or token) is write-only: accepted on create (required) and update (optional: omitted or
empty keeps the stored one), stored encrypted (console/registries/crypto.py), never returned.
Validation is the page form's (console/registries/forms.py). Every change and test is recorded in the
activity log without the password.

    GET    /api/registries/               list
    POST   /api/registries/               {name, server, username, password} → 201
    GET    /api/registries/<id>/
    PATCH  /api/registries/<id>/          any of name, server, username, password
    DELETE /api/registries/<id>/          204
    POST   /api/registries/<id>/test/     {"endpoint": <id>?} → 200 {ok, message} (the endpoint's engine logs in)
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.api.containers import ERRORS
from console.api.images import form_errors
from console.audit.log import record
from console.audit.models import Activity
from console.endpoints.models import Endpoint
from console.endpoints.views import current_endpoint
from console.registries.crypto import SecretUnreadable
from console.registries.forms import RegistryForm
from console.registries.login import LoginResult, test_login
from console.registries.models import RegistryCredential

TAGS = ["registries"]


class RegistrySerializer(serializers.ModelSerializer):
    class Meta:
        model = RegistryCredential
        fields = ("id", "name", "server", "username", "created_at", "updated_at")


RegistryWrite = inline_serializer("RegistryWrite", {
    "name": serializers.CharField(), "server": serializers.CharField(help_text="host[:port]; docker.io for Docker Hub"),
    "username": serializers.CharField(),
    "password": serializers.CharField(help_text="Password or access token. Write-only; on update, omit to keep it."),
})
TestResult = inline_serializer("RegistryTestResult", {"ok": serializers.BooleanField(), "message": serializers.CharField()})


def _save(request: Request, item: RegistryCredential | None, partial: bool = False) -> Response:
    data: dict[str, Any] = {k: request.data.get(k) for k in ("name", "server", "username", "password") if k in request.data}
    if partial and item is not None:
        data = {"name": item.name, "server": item.server, "username": item.username, **data}
    form = RegistryForm(data=data, instance=item)
    action = "registry.update" if item else "registry.create"
    if not form.is_valid():
        record(request, action, str(data.get("name") or ""), Activity.FAILURE, "invalid input", None, fields=sorted(form.errors))
        raise form_errors(form)
    saved = form.save(commit=False)
    if item is None:
        saved.created_by = request.user
    saved.save()
    record(request, action, saved.name, Activity.SUCCESS, "", None, server=saved.server, username=saved.username,
           credentials_replaced=bool(form.cleaned_data.get("password")))
    return Response(RegistrySerializer(saved).data, status=status.HTTP_200_OK if item else status.HTTP_201_CREATED)


class RegistryList(APIView):
    @extend_schema(tags=TAGS, operation_id="registries_list", summary="List registry credentials (never the passwords)",
                   responses={200: RegistrySerializer(many=True), **ERRORS})
    def get(self, request: Request) -> Response:
        return Response(RegistrySerializer(RegistryCredential.objects.all(), many=True).data)

    @extend_schema(tags=TAGS, operation_id="registries_create", summary="Add registry credentials", request=RegistryWrite,
                   responses={201: RegistrySerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        return _save(request, None)


class RegistryDetail(APIView):
    def item(self) -> RegistryCredential:
        return get_object_or_404(RegistryCredential, pk=self.kwargs["rid"])

    @extend_schema(tags=TAGS, operation_id="registries_detail", summary="One registry's credentials (not the password)",
                   responses={200: RegistrySerializer, **ERRORS})
    def get(self, request: Request, rid: int) -> Response:
        return Response(RegistrySerializer(self.item()).data)

    @extend_schema(tags=TAGS, operation_id="registries_update", summary="Change registry credentials", request=RegistryWrite,
                   responses={200: RegistrySerializer, **ERRORS})
    def patch(self, request: Request, rid: int) -> Response:
        return _save(request, self.item(), partial=True)

    @extend_schema(tags=TAGS, operation_id="registries_replace", summary="Replace registry credentials", request=RegistryWrite,
                   responses={200: RegistrySerializer, **ERRORS})
    def put(self, request: Request, rid: int) -> Response:
        return _save(request, self.item())

    @extend_schema(tags=TAGS, operation_id="registries_delete", summary="Remove registry credentials", responses={204: None, **ERRORS})
    def delete(self, request: Request, rid: int) -> Response:
        item = self.item()
        item.delete()
        record(request, "registry.delete", item.name, Activity.SUCCESS, "", None, server=item.server)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RegistryTest(APIView):
    @extend_schema(tags=TAGS, operation_id="registries_test", summary="Test the stored credentials: an endpoint's engine logs in",
                   request=inline_serializer("RegistryTestRequest", {"endpoint": serializers.IntegerField(required=False)}),
                   responses={200: TestResult, **ERRORS})
    def post(self, request: Request, rid: int) -> Response:
        item = get_object_or_404(RegistryCredential, pk=rid)
        eid = request.data.get("endpoint")
        endpoint = get_object_or_404(Endpoint, pk=eid) if eid else current_endpoint(request._request)
        if endpoint is None:
            return Response({"ok": False, "message": "Add an endpoint first: the test runs on an engine."})
        try:
            result = test_login(endpoint, item.server, item.username, item.password())
        except SecretUnreadable as exc:
            result = LoginResult(False, str(exc))
        record(request, "registry.test", item.name, Activity.SUCCESS if result.ok else Activity.FAILURE, result.message,
               endpoint, server=item.server, username=item.username)
        return Response({"ok": result.ok, "message": result.message})


urlpatterns = [
    path("registries/", RegistryList.as_view(), name="api-registries"),
    path("registries/<int:rid>/", RegistryDetail.as_view(), name="api-registry"),
    path("registries/<int:rid>/test/", RegistryTest.as_view(), name="api-registry-test"),
]
