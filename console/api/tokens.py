"""/api/tokens/: the signed-in administrator's own API token.

GET says whether one exists; POST makes a new one (replacing any earlier) and is the
only answer that ever contains the key; DELETE revokes it. Both changes are recorded
in the activity log.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework import status as http_status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.accounts.tokens import issue_token, revoke_token, token_of
from console.audit.log import record


class TokenStateSerializer(serializers.Serializer):
    exists = serializers.BooleanField()
    created = serializers.DateTimeField(allow_null=True)


class NewTokenSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="Send as `Authorization: Token <key>`. Shown only in this answer.")
    created = serializers.DateTimeField()


class TokenView(APIView):
    """The caller's API token."""

    @extend_schema(responses=TokenStateSerializer, summary="Whether you have an API token")
    def get(self, request: Request) -> Response:
        token = token_of(request.user)
        return Response({"exists": token is not None, "created": token.created if token else None})

    @extend_schema(request=None, responses={201: NewTokenSerializer}, summary="Make a new API token (replaces yours)")
    def post(self, request: Request) -> Response:
        replaced = token_of(request.user) is not None
        token = issue_token(request.user)
        record(request, "token.create", request.user.get_username(), message="replaced the earlier token" if replaced else "", via="api")
        return Response({"key": token.key, "created": token.created}, status=http_status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None}, summary="Revoke your API token")
    def delete(self, request: Request) -> Response:
        if revoke_token(request.user):
            record(request, "token.revoke", request.user.get_username(), via="api")
        return Response(status=http_status.HTTP_204_NO_CONTENT)
