"""/api/jobs/: background jobs (console/jobs) — list, one job with its log, cancel.

Routes:
    GET  /api/jobs/?state=&kind=&mine=1&limit=    newest first (state: queued|running|succeeded|failed|cancelled|active)
    GET  /api/jobs/<id>/                           summary, items, error, result and the kept log
    POST /api/jobs/<id>/cancel/                    200 {message, job}; a queued job ends at once, a running one at its next step

Endpoints that start jobs (image pull, push, build, load, …) answer 202 with the job (`JobSerializer`)
and a Location header naming /api/jobs/<id>/; follow it, or the websocket /ws/jobs/<id>/ for live
progress (console/jobs/consumers.py). Errors have the console's one shape (console/api/errors.py).
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.api.containers import ERRORS
from console.jobs import events, lifecycle, recovery
from console.jobs.models import Job

TAGS = ["jobs"]
STATE_CHOICES = [s for s, _ in Job.STATES] + ["active"]


class JobItemSerializer(serializers.Serializer):
    id = serializers.CharField()
    label = serializers.CharField()
    status = serializers.CharField()
    current = serializers.IntegerField(allow_null=True, required=False)
    total = serializers.IntegerField(allow_null=True, required=False)
    fraction = serializers.FloatField(allow_null=True, required=False)


class JobSerializer(serializers.Serializer):
    """A job's summary (what lists show)."""

    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="e.g. image.pull, image.build")
    title = serializers.CharField()
    state = serializers.CharField(help_text="queued | running | succeeded | failed | cancelled")
    state_label = serializers.CharField()
    progress = serializers.FloatField(allow_null=True, help_text="0..1; null while unknown")
    status = serializers.CharField(help_text="The latest one-line status")
    endpoint = serializers.CharField(help_text="The endpoint's name")
    user = serializers.CharField()
    user_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(help_text="Why it failed (first 500 characters)")
    url = serializers.CharField(help_text="The job's page")
    runs = serializers.IntegerField(help_text="How many times a worker started it (more than 1: its worker stopped)")


class JobDetailSerializer(JobSerializer):
    items = JobItemSerializer(many=True)
    result = serializers.JSONField(allow_null=True)
    links = serializers.ListField(child=serializers.DictField())
    log = serializers.CharField(help_text="The log's last 256 KiB")
    log_length = serializers.IntegerField(help_text="Characters ever logged (the log keeps the tail)")
    cancel_requested = serializers.BooleanField()
    full_error = serializers.CharField()


def job_body(job: Job) -> dict[str, Any]:
    return events.summary(job)


def detail_body(job: Job) -> dict[str, Any]:
    more = events.detail(job)
    return {**events.summary(job), "items": more["items"], "result": more["result"], "links": more["links"],
            "log": job.log, "log_length": job.log_length, "cancel_requested": job.cancel_requested, "full_error": job.error}


def accepted(job: Job) -> Response:
    """202 with the job and Location: /api/jobs/<id>/ — for every API view that starts a job."""
    response = Response(job_body(job), status=status.HTTP_202_ACCEPTED)
    response["Location"] = reverse("api-job", kwargs={"job_id": job.pk})
    return response


class JobList(APIView):
    @extend_schema(tags=TAGS, operation_id="jobs_list", summary="List jobs, newest first", parameters=[
        OpenApiParameter("state", str, enum=STATE_CHOICES), OpenApiParameter("kind", str),
        OpenApiParameter("mine", bool, description="Only the caller's jobs"),
        OpenApiParameter("limit", int, description="At most this many (default 100, at most 500)")],
        responses={200: JobSerializer(many=True), **ERRORS})
    def get(self, request: Request) -> Response:
        recovery.sweep()
        jobs = Job.objects.defer("log")
        state = request.query_params.get("state", "")
        if state == "active":
            jobs = jobs.filter(state__in=Job.ACTIVE)
        elif state:
            jobs = jobs.filter(state=state)
        if request.query_params.get("kind"):
            jobs = jobs.filter(kind=request.query_params["kind"])
        if request.query_params.get("mine", "").lower() in ("1", "true", "yes"):
            jobs = jobs.filter(user_id=request.user.pk)
        try:
            limit = max(1, min(500, int(request.query_params.get("limit", 100))))
        except ValueError:
            limit = 100
        return Response([job_body(j) for j in jobs[:limit]])


class JobDetail(APIView):
    @extend_schema(tags=TAGS, operation_id="jobs_detail", summary="One job with its items, result and log",
                   responses={200: JobDetailSerializer, **ERRORS})
    def get(self, request: Request, job_id: int) -> Response:
        return Response(detail_body(get_object_or_404(Job, pk=job_id)))


class JobCancel(APIView):
    @extend_schema(tags=TAGS, operation_id="jobs_cancel", summary="Cancel a job", request=None,
                   responses={200: inline_serializer("JobCancelled", {"message": serializers.CharField(), "job": JobSerializer()}),
                              **ERRORS})
    def post(self, request: Request, job_id: int) -> Response:
        job = get_object_or_404(Job, pk=job_id)
        message = lifecycle.cancel(job, request)
        job.refresh_from_db()
        return Response({"message": message, "job": job_body(job)})


urlpatterns = [
    path("jobs/", JobList.as_view(), name="api-jobs"),
    path("jobs/<int:job_id>/", JobDetail.as_view(), name="api-job"),
    path("jobs/<int:job_id>/cancel/", JobCancel.as_view(), name="api-job-cancel"),
]
