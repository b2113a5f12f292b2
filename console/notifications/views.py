"""Notification pages, per endpoint: the rules and the notifications sent, add/edit/delete a rule, send a test.

The list's "Recent notifications" part refreshes itself (htmx, every few
seconds) from `deliveries`. Rule changes are audited as notification.rule.*;
the audit keeps a webhook's host, never its URL (paths often carry a token).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from console.accounts.access import admin_required
from console.audit.log import record
from console.audit.models import Activity
from console.endpoints.models import Endpoint
from console.notifications.delivery import send_test
from console.notifications.forms import RuleForm
from console.notifications.models import Delivery, Rule, Watch
from console.notifications.watcher import HEARTBEAT_STALE

RECENT = 50


def _endpoint(request: HttpRequest, eid: int) -> Endpoint:
    endpoint = get_object_or_404(Endpoint, pk=eid)
    if request.session.get("endpoint_id") != endpoint.pk:
        request.session["endpoint_id"] = endpoint.pk
    return endpoint


def _details(rule: Rule) -> dict[str, Any]:
    return {"rule": rule.name, "kind": rule.kind, "channel": rule.channel, "sends_to": rule.target,
            "labels": rule.label_filter, "enabled": rule.enabled}


def _recent(endpoint: Endpoint) -> QuerySet[Delivery]:
    return Delivery.objects.filter(endpoint=endpoint).select_related("rule")[:RECENT]


def watch_status(endpoint: Endpoint) -> dict[str, Any]:
    """What the page says about the watcher: {"state": watching | reconnecting | stale | none, "message", "since"}."""
    watch = Watch.objects.filter(endpoint=endpoint).first()
    if watch is None:
        return {"state": "none", "message": "", "since": None}
    if timezone.now() - watch.updated_at > timedelta(seconds=HEARTBEAT_STALE):
        return {"state": "stale", "message": watch.message, "since": watch.updated_at}
    return {"state": watch.state, "message": watch.message, "since": watch.updated_at}


@admin_required
@require_GET
def rule_list(request: HttpRequest, eid: int) -> HttpResponse:
    endpoint = _endpoint(request, eid)
    rules = list(Rule.objects.filter(endpoint=endpoint))
    context = {"endpoint": endpoint, "rules": rules, "deliveries": _recent(endpoint), "watch": watch_status(endpoint),
               "has_enabled": any(r.enabled for r in rules)}
    return render(request, "notifications/list.html", context)


@admin_required
@require_GET
def deliveries(request: HttpRequest, eid: int) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=eid)
    return render(request, "notifications/_deliveries.html", {"endpoint": endpoint, "deliveries": _recent(endpoint)})


def _edit(request: HttpRequest, endpoint: Endpoint, rule: Rule | None) -> HttpResponse:
    form = RuleForm(request.POST or None, instance=rule or Rule(endpoint=endpoint))
    if request.method == "POST":
        if form.is_valid():
            saved = form.save(commit=False)
            saved.endpoint = endpoint
            if rule is None:
                saved.created_by = request.user if request.user.is_authenticated else None
            saved.save()
            record(request, f"notification.rule.{'update' if rule else 'create'}", saved.name, Activity.SUCCESS, "",
                   endpoint, **_details(saved))
            messages.success(request, f"{'Saved' if rule else 'Added'} the rule {saved.name}.")
            return redirect("notifications:list", eid=endpoint.pk)
        record(request, f"notification.rule.{'update' if rule else 'create'}", request.POST.get("name", "")[:100],
               Activity.FAILURE, "invalid input: " + ", ".join(form.errors), endpoint)
    return render(request, "notifications/form.html", {"endpoint": endpoint, "form": form, "rule": rule},
                  status=400 if form.is_bound else 200)


@admin_required
def rule_create(request: HttpRequest, eid: int) -> HttpResponse:
    return _edit(request, _endpoint(request, eid), None)


@admin_required
def rule_edit(request: HttpRequest, eid: int, rid: int) -> HttpResponse:
    endpoint = _endpoint(request, eid)
    return _edit(request, endpoint, get_object_or_404(Rule, pk=rid, endpoint=endpoint))


@admin_required
@require_POST
def rule_delete(request: HttpRequest, eid: int, rid: int) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=eid)
    rule = get_object_or_404(Rule, pk=rid, endpoint=endpoint)
    details = _details(rule)
    rule.delete()
    record(request, "notification.rule.delete", details["rule"], Activity.SUCCESS, "", endpoint, **details)
    messages.success(request, f"Deleted the rule {details['rule']}.")
    return redirect("notifications:list", eid=eid)


@admin_required
@require_POST
def rule_test(request: HttpRequest, eid: int, rid: int) -> HttpResponse:
    """Send the rule's test notification now and say how it went."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    rule = get_object_or_404(Rule, pk=rid, endpoint=endpoint)
    delivery = send_test(rule)
    ok = delivery.status == Delivery.SENT
    record(request, "notification.rule.test", rule.name, Activity.SUCCESS if ok else Activity.FAILURE, delivery.error,
           endpoint, **_details(rule))
    if ok:
        messages.success(request, f"Sent a test notification for {rule.name} to {rule.target}.")
    else:
        messages.error(request, f"The test notification for {rule.name} was not delivered: {delivery.error}")
    return redirect("notifications:list", eid=eid)
