"""REST API for notification rules and the notifications they sent.

Routes (under /api/endpoints/<eid>/notifications/):

    GET    /rules/              the endpoint's rules
    POST   /rules/              add one: {name, kind, label_filter: {}, restart_count, restart_window, channel,
                                webhook_url, email_to, enabled} → 201 (the rule)
    GET    /rules/<id>/         one rule
    PUT    /rules/<id>/         change it (fields left out keep their values; validated as on create)
    DELETE /rules/<id>/         delete it → 204
    POST   /rules/<id>/test/    send its test notification now → the delivery (status sent or failed, error)
    GET    /sent/               the latest notifications (deliveries), newest first

Validation is the page's form (console/notifications/forms.py): webhook URLs are
http(s) only; e-mail addresses are checked. Rule changes are audited.
"""

from __future__ import annotations

from typing import Any

from django.forms.models import model_to_dict
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.api.containers import ERRORS
from console.api.networks import form_errors
from console.audit.log import record
from console.audit.models import Activity
from console.endpoints.models import Endpoint
from console.networks.fields import key_values_text
from console.notifications.delivery import send_test
from console.notifications.forms import RuleForm
from console.notifications.models import Delivery, Rule

TAGS = ["notifications"]
RECENT = 100
FORM_FIELDS = ("name", "kind", "label_filter", "restart_count", "restart_window", "channel", "webhook_url", "email_to",
               "enabled")


class RuleSerializer(serializers.ModelSerializer):
    label_filter = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False,
                                         help_text='Labels a container must have: {"key": "value"}; "" means any value')

    class Meta:
        model = Rule
        fields = ("id", "name", "kind", "label_filter", "restart_count", "restart_window", "channel", "webhook_url",
                  "email_to", "enabled", "created_at", "updated_at")
        read_only_fields = ("id", "created_at", "updated_at")


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = ("id", "rule", "rule_name", "kind", "channel", "test", "container_id", "container_name", "message",
                  "status", "error", "attempts", "created_at", "sent_at")


def _form_data(data: Any, rule: Rule) -> dict[str, Any]:
    """Request JSON over the rule's current values (a new rule's are the defaults) → the form's fields."""
    incoming = RuleSerializer(data=data, partial=True)
    incoming.is_valid(raise_exception=True)
    d = {**model_to_dict(rule, fields=FORM_FIELDS), **incoming.validated_data}
    d["label_filter"] = key_values_text(d.get("label_filter"))
    if d.get("enabled"):
        d["enabled"] = "on"
    else:
        d.pop("enabled", None)
    return d


def _audit(request: Request, action: str, rule: Rule, outcome: str = Activity.SUCCESS, message: str = "") -> None:
    record(request, action, rule.name, outcome, message, rule.endpoint, rule=rule.name, kind=rule.kind,
           channel=rule.channel, sends_to=rule.target)


class RulesAPIView(APIView):
    def endpoint(self) -> Endpoint:
        return get_object_or_404(Endpoint, pk=self.kwargs["eid"])

    def rule(self) -> Rule:
        return get_object_or_404(Rule, pk=self.kwargs["rid"], endpoint_id=self.kwargs["eid"])

    def save(self, request: Request, rule: Rule, action: str) -> Rule:
        form = RuleForm(_form_data(request.data, rule), instance=rule)
        if not form.is_valid():
            record(request, action, str(request.data.get("name", ""))[:100], Activity.FAILURE,
                   "invalid input: " + ", ".join(form.errors), rule.endpoint)
            raise form_errors(form)
        saved = form.save(commit=False)
        if saved.pk is None and request.user.is_authenticated:
            saved.created_by = request.user
        saved.save()
        _audit(request, action, saved)
        return saved


class RuleList(RulesAPIView):
    @extend_schema(tags=TAGS, operation_id="notification_rules_list", summary="List notification rules",
                   responses={200: RuleSerializer(many=True), **ERRORS})
    def get(self, request: Request, eid: int) -> Response:
        return Response(RuleSerializer(Rule.objects.filter(endpoint=self.endpoint()), many=True).data)

    @extend_schema(tags=TAGS, operation_id="notification_rules_create", summary="Add a notification rule",
                   request=RuleSerializer, responses={201: RuleSerializer, **ERRORS})
    def post(self, request: Request, eid: int) -> Response:
        rule = self.save(request, Rule(endpoint=self.endpoint()), "notification.rule.create")
        return Response(RuleSerializer(rule).data, status=201)


class RuleDetail(RulesAPIView):
    @extend_schema(tags=TAGS, operation_id="notification_rules_get", summary="A notification rule",
                   responses={200: RuleSerializer, **ERRORS})
    def get(self, request: Request, eid: int, rid: int) -> Response:
        return Response(RuleSerializer(self.rule()).data)

    @extend_schema(tags=TAGS, operation_id="notification_rules_update", summary="Change a notification rule",
                   request=RuleSerializer, responses={200: RuleSerializer, **ERRORS})
    def put(self, request: Request, eid: int, rid: int) -> Response:
        return Response(RuleSerializer(self.save(request, self.rule(), "notification.rule.update")).data)

    @extend_schema(tags=TAGS, operation_id="notification_rules_delete", summary="Delete a notification rule",
                   responses={204: None, **ERRORS})
    def delete(self, request: Request, eid: int, rid: int) -> Response:
        rule = self.rule()
        _audit(request, "notification.rule.delete", rule)
        rule.delete()
        return Response(status=204)


class RuleTest(RulesAPIView):
    @extend_schema(tags=TAGS, operation_id="notification_rules_test", summary="Send a rule's test notification now",
                   request=None, responses={200: DeliverySerializer, **ERRORS})
    def post(self, request: Request, eid: int, rid: int) -> Response:
        rule = self.rule()
        delivery = send_test(rule)
        ok = delivery.status == Delivery.SENT
        _audit(request, "notification.rule.test", rule, Activity.SUCCESS if ok else Activity.FAILURE, delivery.error)
        return Response(DeliverySerializer(delivery).data)


class DeliveryList(RulesAPIView):
    @extend_schema(tags=TAGS, operation_id="notifications_sent", summary="The latest notifications, newest first",
                   responses={200: DeliverySerializer(many=True), **ERRORS})
    def get(self, request: Request, eid: int) -> Response:
        return Response(DeliverySerializer(Delivery.objects.filter(endpoint=self.endpoint())[:RECENT], many=True).data)


urlpatterns = [
    path("endpoints/<int:eid>/notifications/rules/", RuleList.as_view(), name="api-notification-rules"),
    path("endpoints/<int:eid>/notifications/rules/<int:rid>/", RuleDetail.as_view(), name="api-notification-rule"),
    path("endpoints/<int:eid>/notifications/rules/<int:rid>/test/", RuleTest.as_view(), name="api-notification-rule-test"),
    path("endpoints/<int:eid>/notifications/sent/", DeliveryList.as_view(), name="api-notifications-sent"),
]
