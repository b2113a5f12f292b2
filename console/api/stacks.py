"""REST API for stacks (compose projects): list, create (deploy), retrieve, update (redeploy), delete, start,
stop, validate.

Routes (under /api/endpoints/<eid>/stacks/):

    GET    /                     console stacks and "limited" projects found on the engine
    POST   /                     {name, compose, variables: {}, env_file} → 202 job (deploy); 400 with
                                 fields.compose = line-numbered problems
    POST   /validate/            {name?, compose, variables, env_file} → 200 {valid, problems, warnings, services}
    GET    /<sid>/               the stack, its file and its services' containers
    PUT    /<sid>/               {compose?, variables?, env_file?} → 202 job (redeploy: only what changed)
    DELETE /<sid>/?volumes=true  → 202 job (down; named volumes kept unless volumes=true)
    POST   /<sid>/start/ | stop/ → 202 job

Validation is the pages' form (console/stacks/forms.py); every change is audited; long work is a job
(console/stacks/jobs.py) whose progress is at /api/jobs/<id>/. Access: each view's `required_action`
(console/accounts/policy.py: stack.view, stack.deploy, stack.update, stack.start/stop, stack.remove) and, per
stack, its owner (console/stacks/permissions.py); lists hold only the stacks the caller may see.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.api.containers import ERRORS
from console.api.jobs import JobSerializer, accepted
from console.audit.log import record
from console.audit.models import Activity
from console.endpoints.client import EngineError
from console.endpoints.models import Endpoint
from console.stacks import discovery, permissions, service
from console.stacks.compose import ComposeError
from console.stacks.edit_views import create_and_deploy, queue_action, save_and_redeploy
from console.stacks.forms import StackForm
from console.stacks.models import Stack
from console.stacks.views import engine_projects

TAGS = ["stacks"]
JOB_RESPONSES = {202: JobSerializer, **ERRORS}


class ProblemSerializer(serializers.Serializer):
    line = serializers.IntegerField(allow_null=True)
    column = serializers.IntegerField(allow_null=True)
    path = serializers.CharField(help_text="Where in the file, e.g. services.app.ports[0]")
    message = serializers.CharField()
    text = serializers.CharField(help_text="The whole message: 'line 4: services.app.ports[0]: …'")


class StackInputSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True)
    compose = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    variables = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    env_file = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


class ContainerSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    service = serializers.CharField()
    number = serializers.IntegerField()
    state = serializers.CharField()
    status = serializers.CharField()
    health = serializers.CharField()
    image = serializers.CharField()
    ports = serializers.ListField(child=serializers.CharField())
    endpoint_id = serializers.IntegerField(help_text="the endpoint the container runs on (x-berth-endpoint)")
    endpoint_name = serializers.CharField()


class StackSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True, help_text="null for a limited stack (not managed here)")
    name = serializers.CharField()
    origin = serializers.ChoiceField(choices=("console", "adopted", "limited"))
    state = serializers.ChoiceField(choices=("running", "partial", "stopped", "not deployed"))
    services = serializers.ListField(child=serializers.CharField())
    containers = serializers.IntegerField()
    running = serializers.IntegerField()


class StackDetailSerializer(StackSummarySerializer):
    compose = serializers.CharField()
    variables = serializers.DictField(child=serializers.CharField(allow_blank=True))
    env_file = serializers.CharField()
    working_dir = serializers.CharField()
    created_by = serializers.CharField()
    deployed_at = serializers.DateTimeField(allow_null=True)
    service_containers = ContainerSerializer(many=True)


def summary(name: str, stack: Stack | None, project: discovery.EngineProject | None) -> dict[str, Any]:
    return {"id": stack.pk if stack else None, "name": name, "origin": stack.origin if stack else "limited",
            "state": project.state if project else "not deployed", "services": project.services if project else [],
            "containers": len(project.containers) if project else 0, "running": project.running if project else 0}


def validated_form(request: Request, endpoint: Endpoint, stack: Stack | None = None, **kwargs: Any) -> StackForm:
    """The page's form on the API's input; 400 (fields.compose lists the problems) when invalid, audited."""
    incoming = StackInputSerializer(data=request.data)
    incoming.is_valid(raise_exception=True)
    d = incoming.validated_data
    variables = d.get("variables", stack.variables if stack else {})
    form = StackForm({"name": d.get("name", stack.name if stack else ""), "compose": d.get("compose", stack.compose if stack else ""),
                      "env_file": d.get("env_file", stack.env_file if stack else "")},
                     endpoint=endpoint, stack=stack, rows=list((variables or {}).items()),
                     initial={"name": stack.name} if stack else None, **kwargs)
    if not form.is_valid():
        fields = {k: [str(e) for e in v] for k, v in form.errors.items()}
        if form.problems:
            fields["compose"] = [str(p["text"]) for p in form.problems]
        if form.row_errors:
            fields["variables"] = form.row_errors
        record(request, "stack.update" if stack else "stack.create", stack.name if stack else str(d.get("name", "")),
               Activity.FAILURE, "invalid input", endpoint, errors=fields)
        raise ValidationError(fields)
    return form


def adoptable_dir(endpoint: Endpoint, name: str) -> tuple[str, tuple[str, ...]]:
    """(working_dir, config_files) of a project being adopted, when its file is readable here; else empty."""
    if not name:
        return "", ()
    found, _ = engine_projects(endpoint, name)
    project = found.get(name)
    if project is None or discovery.readable_compose(project) is None:
        return "", ()
    return project.working_dir, tuple(project.config_files)


class StacksAPIView(APIView):
    def endpoint(self) -> Endpoint:
        return get_object_or_404(Endpoint, pk=self.kwargs["eid"])

    def stack(self, action: str) -> Stack:
        """The stack of the URL when the caller may do `action` on it (404 / 403, a refused change audited)."""
        return permissions.stack_for(self.request, self.kwargs["eid"], self.kwargs["sid"], action)


class StackList(StacksAPIView):
    required_action = {"GET": "stack.view", "POST": "stack.deploy"}

    @extend_schema(tags=TAGS, operation_id="stacks_list", summary="List stacks (managed and limited)",
                   responses={200: StackSummarySerializer(many=True), **ERRORS})
    def get(self, request: Request, eid: int) -> Response:
        endpoint = self.endpoint()
        found = discovery.projects(endpoint)
        managed = list(Stack.objects.filter(endpoint=endpoint).select_related("endpoint"))
        stacks = {s.name: s for s in permissions.visible_stacks(request.user, managed)}
        if not permissions.sees_limited(request.user, endpoint):  # limited projects: administrators only
            found = {n: p for n, p in found.items() if n in stacks}
        names = sorted(set(stacks) | (set(found) - {s.name for s in managed}))
        return Response([summary(n, stacks.get(n), found.get(n)) for n in names])

    @extend_schema(tags=TAGS, operation_id="stacks_create", summary="Create a stack and deploy it",
                   request=StackInputSerializer, responses=JOB_RESPONSES)
    def post(self, request: Request, eid: int) -> Response:
        endpoint = self.endpoint()
        found, _ = engine_projects(endpoint)
        form = validated_form(request, endpoint, engine_names=set(found))
        with transaction.atomic():
            job = create_and_deploy(request, endpoint, form, "stack.create", source="api")
        return accepted(job)


class StackValidate(StacksAPIView):
    required_action = "stack.deploy"

    @extend_schema(tags=TAGS, operation_id="stacks_validate", summary="Check a compose file (nothing is deployed)",
                   request=StackInputSerializer,
                   responses={200: inline_serializer("StackValidation", {
                       "valid": serializers.BooleanField(), "problems": ProblemSerializer(many=True),
                       "warnings": ProblemSerializer(many=True), "services": serializers.ListField(child=serializers.CharField())}),
                       **ERRORS})
    def post(self, request: Request, eid: int) -> Response:
        endpoint = self.endpoint()
        incoming = StackInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        d = incoming.validated_data
        stack = Stack.objects.filter(pk=request.query_params.get("stack") or 0, endpoint=endpoint).first()
        if stack is not None and not permissions.may(request.user, stack, "stack.update"):
            stack = None  # someone else's stack: its directory and files are not the caller's to use
        if request.query_params.get("adopt") and not permissions.sees_limited(request.user, endpoint):
            raise PermissionDenied("adopting a project is for administrators")
        name = d.get("name") or (stack.name if stack else "") or "stack"
        working_dir, files = (stack.working_dir, tuple(stack.config_files or ())) if stack else adoptable_dir(
            endpoint, request.query_params.get("adopt", ""))
        source = service.Source(name, d.get("compose", ""), d.get("variables") or {}, d.get("env_file", ""),
                                working_dir, files)
        try:
            loaded = service.load(source, home=endpoint)
        except ComposeError as exc:
            return Response({"valid": False, "problems": service.problems_of(exc), "warnings": [], "services": []})
        return Response({"valid": True, "problems": [], "warnings": [w.as_dict() for w in loaded.warnings],
                         "services": [s.name for s in loaded.project.services]})


class StackDetail(StacksAPIView):
    required_action = {"GET": "stack.view", "PUT": "stack.update", "DELETE": "stack.remove"}

    @extend_schema(tags=TAGS, operation_id="stacks_retrieve", summary="One stack with its containers",
                   responses={200: StackDetailSerializer, **ERRORS})
    def get(self, request: Request, eid: int, sid: int) -> Response:
        stack = self.stack("stack.view")
        project, errors = discovery.spread_project(stack.endpoints(), stack.name)  # every endpoint it is placed on
        if errors and project is None:
            raise EngineError("; ".join(errors))
        containers = [vars(c) for c in project.containers] if project else []
        return Response({**summary(stack.name, stack, project), "compose": stack.compose, "variables": stack.variables,
                         "env_file": stack.env_file, "working_dir": stack.working_dir,
                         "created_by": stack.created_by_name, "deployed_at": stack.deployed_at,
                         "service_containers": containers})

    @extend_schema(tags=TAGS, operation_id="stacks_update", summary="Change the file or variables and redeploy",
                   request=StackInputSerializer, responses=JOB_RESPONSES)
    def put(self, request: Request, eid: int, sid: int) -> Response:
        stack = self.stack("stack.update")
        form = validated_form(request, stack.endpoint, stack=stack, working_dir=stack.working_dir,
                              config_files=tuple(stack.config_files or ()))
        job = save_and_redeploy(request, stack, form.cleaned_data["compose"], form.variables,
                                form.cleaned_data.get("env_file", ""))
        return accepted(job)


    @extend_schema(tags=TAGS, operation_id="stacks_delete", summary="Remove the stack (down)",
                   parameters=[OpenApiParameter("volumes", bool, description="Also remove its named volumes")],
                   responses=JOB_RESPONSES)
    def delete(self, request: Request, eid: int, sid: int) -> Response:
        stack = self.stack("stack.remove")
        volumes = request.query_params.get("volumes") in ("1", "true", "yes")
        with transaction.atomic():
            job = queue_action(request, stack, "remove", volumes=volumes)
        return accepted(job)


class StackAction(StacksAPIView):
    required_action = "stack.{action}"

    @extend_schema(tags=TAGS, operation_id="stacks_action", summary="Start or stop every container of the stack",
                   request=None, responses=JOB_RESPONSES)
    def post(self, request: Request, eid: int, sid: int, action: str) -> Response:
        if action not in ("start", "stop"):
            raise ValidationError({"action": ["start or stop"]})
        stack = self.stack(f"stack.{action}")
        with transaction.atomic():
            job = queue_action(request, stack, action)
        return accepted(job)


urlpatterns = [
    path("endpoints/<int:eid>/stacks/", StackList.as_view(), name="api-stacks"),
    path("endpoints/<int:eid>/stacks/validate/", StackValidate.as_view(), name="api-stacks-validate"),
    path("endpoints/<int:eid>/stacks/<int:sid>/", StackDetail.as_view(), name="api-stack"),
    path("endpoints/<int:eid>/stacks/<int:sid>/<str:action>/", StackAction.as_view(), name="api-stack-action"),
]
