"""REST API for an endpoint's recent engine events: GET /api/endpoints/<eid>/events/.

Query: since (15m | 1h | 6h | 24h), type, action, q (text in a name, ID or
attribute), helpers=1 (include the console's helper containers). The answer is
{"events": [<Docker event JSON>, ...]}, oldest first, at most MAX_EVENTS (the
newest of the period). The events page loads its history here; live events
come from the websocket /ws/endpoints/<eid>/events/.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.api.containers import ERRORS
from console.accounts.policy import visible_events
from console.endpoints.models import Endpoint
from console.events.history import SINCE, TYPES, EventQuery, history

EventsSerializer = inline_serializer("EngineEvents", {
    "events": serializers.ListField(child=serializers.JSONField(), help_text="Docker event JSON, oldest first"),
})


class EventHistory(APIView):
    required_action = "event.view"  # console/accounts/access.py; only events about what the caller may see
    @extend_schema(tags=["events"], operation_id="events_history", summary="Recent engine events, filtered",
                   parameters=[OpenApiParameter("since", str, enum=list(SINCE), description="How far back (default 1h)"),
                               OpenApiParameter("type", str, enum=list(TYPES)),
                               OpenApiParameter("action", str, description="e.g. die, or health_status"),
                               OpenApiParameter("q", str, description="Text in the object's name, ID or attributes"),
                               OpenApiParameter("helpers", OpenApiTypes.BOOL, description="Include helper containers")],
                   responses={200: EventsSerializer, **ERRORS})
    def get(self, request: Request, eid: int) -> Response:
        endpoint = get_object_or_404(Endpoint, pk=eid)
        found = history(endpoint, EventQuery.from_params(request.query_params))
        return Response({"events": visible_events(request.user, endpoint, found)})
