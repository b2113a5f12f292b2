from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from console.accounts.access import admin_required
from console.audit.models import Activity


@admin_required
def activity(request: HttpRequest) -> HttpResponse:
    """The activity log, newest first, 50 to a page."""
    page = Paginator(Activity.objects.all(), 50).get_page(request.GET.get("page"))
    return render(request, "audit/activity.html", {"page": page})
