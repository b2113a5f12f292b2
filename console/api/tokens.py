"""/api/tokens/: the caller's own API tokens (console/accounts/tokens.py: hashed, named, expiring).

GET lists them (never their keys); POST {name?, days?} makes one and is the only answer that
ever contains its key; DELETE revokes them all (DELETE /api/tokens/<id>/ one). Every change is
recorded in the activity log. Any signed-in user manages their own tokens.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework import status as http_status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.accounts.tokens import MAX_DAYS, issue_token, revoke_token, tokens_of
from console.audit.log import record


class TokenInfoSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The key's first characters, to tell tokens apart")
    created = serializers.DateTimeField(source="created_at")
    expires = serializers.DateTimeField(source="expires_at", allow_null=True)
    last_used = serializers.DateTimeField(source="last_used_at", allow_null=True)


class TokenStateSerializer(serializers.Serializer):
    exists = serializers.BooleanField()
    created = serializers.DateTimeField(allow_null=True, help_text="When the newest working token was made")
    tokens = TokenInfoSerializer(many=True)


class NewTokenRequest(serializers.Serializer):
    name = serializers.CharField(max_length=64, required=False, allow_blank=True)
    days = serializers.IntegerField(min_value=1, max_value=MAX_DAYS, required=False, allow_null=True,
                                    help_text="Expire after this many days; absent: never")


class NewTokenSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="Send as `Authorization: Token <key>`. Shown only in this answer.")
    id = serializers.IntegerField()
    name = serializers.CharField()
    created = serializers.DateTimeField()
    expires = serializers.DateTimeField(allow_null=True)


class TokenView(APIView):
    """The caller's API tokens."""

    required_action = "signed_in"  # console/accounts/access.py: every user, for their own tokens

    @extend_schema(responses=TokenStateSerializer, summary="Your API tokens")
    def get(self, request: Request) -> Response:
        found = tokens_of(request.user)
        return Response({"exists": bool(found), "created": found[0].created_at if found else None,
                         "tokens": TokenInfoSerializer(found, many=True).data})

    @extend_schema(request=NewTokenRequest, responses={201: NewTokenSerializer}, summary="Make a new API token")
    def post(self, request: Request) -> Response:
        wanted = NewTokenRequest(data=request.data or {})
        wanted.is_valid(raise_exception=True)
        made = issue_token(request.user, wanted.validated_data.get("name") or "", wanted.validated_data.get("days"))
        record(request, "token.create", made.token.name, prefix=made.token.prefix, via="api")
        return Response({"key": made.key, "id": made.token.pk, "name": made.token.name, "created": made.token.created_at,
                         "expires": made.token.expires_at}, status=http_status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None}, summary="Revoke all your API tokens")
    def delete(self, request: Request) -> Response:
        if revoke_token(request.user):
            record(request, "token.revoke", request.user.get_username(), id="all", via="api")
        return Response(status=http_status.HTTP_204_NO_CONTENT)


class TokenDetailView(APIView):
    required_action = "signed_in"

    @extend_schema(request=None, responses={204: None}, summary="Revoke one of your API tokens")
    def delete(self, request: Request, token_id: int) -> Response:
        if revoke_token(request.user, token_id):
            record(request, "token.revoke", request.user.get_username(), id=token_id, via="api")
        return Response(status=http_status.HTTP_204_NO_CONTENT)
