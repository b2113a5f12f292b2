"""REST API for a container's filesystem drift (`docker diff`), as its page's Changes tab shows it.

    GET /api/endpoints/<eid>/containers/<cid>/changes/?q=&kind=
        {"id", "counts": {"added","changed","deleted","total"}, "changes": [{"path","kind"}]}

`kind` is Docker's letter (A added, C changed, D deleted); `counts` are of all
changes, `changes` only those matching ?q= (a path substring) and ?kind=.
Engine refusals keep their status and words (404 for an unknown container).
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.api.containers import ERRORS, TAGS
from console.containers.changes import KIND_NAMES, count, fetch_changes, select
from console.endpoints.models import Endpoint

ChangesSerializer = inline_serializer("ContainerChanges", {
    "id": serializers.CharField(help_text="The container as it was named in the request"),
    "counts": inline_serializer("ChangeCounts", {
        "added": serializers.IntegerField(), "changed": serializers.IntegerField(),
        "deleted": serializers.IntegerField(), "total": serializers.IntegerField()}),
    "changes": inline_serializer("Change", {
        "path": serializers.CharField(),
        "kind": serializers.ChoiceField(choices=list(KIND_NAMES), help_text="A added, C changed, D deleted"),
    }, many=True),
})


class ContainerChangesView(APIView):
    required_action, required_resource = "container.inspect", "cid"  # console/accounts/access.py

    @extend_schema(tags=TAGS, operation_id="containers_changes",
                   summary="What changed in a container's filesystem (docker diff)",
                   parameters=[OpenApiParameter("q", str, description="Only paths containing this"),
                               OpenApiParameter("kind", str, enum=list(KIND_NAMES))],
                   responses={200: ChangesSerializer, **ERRORS})
    def get(self, request: Request, eid: int, cid: str) -> Response:
        endpoint = get_object_or_404(Endpoint, pk=eid)
        changes = fetch_changes(endpoint, cid)
        shown = select(changes, request.query_params.get("q", ""), request.query_params.get("kind", ""))
        return Response({"id": cid, "counts": count(changes).as_dict(), "changes": [c.as_dict() for c in shown]})
