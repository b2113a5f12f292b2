"""Jobs pages: the list (/jobs/, live), one job with its log (/jobs/<id>/, live), and cancel.

The list's table is templates/jobs/_table.html, rendered in the page and alone by `job_rows` (the
filter form and the page's script fetch it when a job appears). Loading either page first sweeps
orphaned jobs (recovery.sweep), so a page never shows a job "running" whose worker is gone.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from console.accounts.access import is_console_admin, record_denied, signed_in
from console.jobs import lifecycle, recovery
from console.jobs.models import Job

PAGE_SIZE = 50
STATE_FILTERS = (("", "Any state"), ("active", "Queued or running"), (Job.SUCCEEDED, "Succeeded"),
                 (Job.FAILED, "Failed"), (Job.CANCELLED, "Cancelled"))


def filtered(request: HttpRequest) -> tuple[QuerySet[Job], dict[str, str]]:
    """Jobs matching ?state=&kind=&mine=1, newest first, and the filters as read."""
    params = {"state": request.GET.get("state", ""), "kind": request.GET.get("kind", "").strip(),
              "mine": "1" if request.GET.get("mine") == "1" else ""}
    jobs = Job.objects.select_related("user")
    if params["state"] == "active":
        jobs = jobs.filter(state__in=Job.ACTIVE)
    elif params["state"] in Job.FINISHED:
        jobs = jobs.filter(state=params["state"])
    else:
        params["state"] = ""
    if params["kind"]:
        jobs = jobs.filter(kind=params["kind"])
    if params["mine"] or not is_console_admin(request.user):  # others' jobs are for administrators
        jobs = jobs.filter(user_id=request.user.pk)
    return jobs.defer("log"), params


def table_context(request: HttpRequest) -> dict[str, Any]:
    recovery.sweep()
    jobs, params = filtered(request)
    page = Paginator(jobs, PAGE_SIZE).get_page(request.GET.get("page"))
    kinds = list(Job.objects.order_by("kind").values_list("kind", flat=True).distinct())
    return {"page": page, "params": params, "filtering": any(params.values()), "kinds": kinds,
            "state_filters": STATE_FILTERS}


@signed_in
def job_list(request: HttpRequest) -> HttpResponse:
    return render(request, "jobs/list.html", table_context(request))


@signed_in
def job_rows(request: HttpRequest) -> HttpResponse:
    return render(request, "jobs/_table.html", table_context(request))


def _own_job(request: HttpRequest, job_id: int) -> Job:
    """The job, when the user started it or is an administrator; else 404 (others' jobs are not shown)."""
    job = get_object_or_404(Job.objects.select_related("user", "endpoint"), pk=job_id)
    if job.user_id != request.user.pk and not is_console_admin(request.user):
        if request.method == "POST":
            record_denied(request, "not your job")
        raise Http404("no such job")
    return job


@signed_in
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    recovery.sweep()
    job = _own_job(request, job_id)
    result_text = json.dumps(job.result, indent=2, sort_keys=True) if job.result else ""
    return render(request, "jobs/detail.html", {"job": job, "result_text": result_text,
                                                "log_offset": job.log_length - len(job.log)})


@signed_in
@require_POST
def job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _own_job(request, job_id)
    text = lifecycle.cancel(job, request)
    messages.info(request, text)
    return redirect(request.POST.get("next") if _local(request.POST.get("next", "")) else job.get_absolute_url())


def _local(url: str) -> bool:
    return url.startswith("/") and not url.startswith("//")
