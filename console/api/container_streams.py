"""REST API for one container's logs, stats history and name (what its page does over HTTP).

- GET  /api/endpoints/<eid>/containers/<cid>/logs/           the log as text, streamed from the engine
- GET  /api/endpoints/<eid>/containers/<cid>/stats/history/  the last hour of stats samples
- POST /api/endpoints/<eid>/containers/<cid>/rename/         {"name": "..."} (audited)

The log is streamed as the engine sends it, through an async iterator (Daphne
would otherwise collect a sync iterator whole — not something to do with a 1 GB
log); each read pulls up to READ_BLOCK bytes from the engine in a worker thread.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

import requests
import urllib3.exceptions
from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.containers.detail_ops import RenameError, inspect_container, rename_container
from console.containers.engine_streams import EngineStream, open_stream
from console.containers.log_lines import LogQuery, PlainLog
from console.endpoints.client import EngineError, endpoint_client
from console.endpoints.models import Endpoint
from console.metrics.models import HISTORY, SAMPLE_INTERVAL
from console.metrics.sampling import history

READ_BLOCK = 256 * 1024  # bytes handed to the web server at a time


def _container(endpoint: Endpoint, cid: str) -> dict[str, Any]:
    try:
        return inspect_container(endpoint, cid)
    except EngineError as exc:
        if exc.status == 404:
            raise NotFound(f"No container {cid} on {endpoint.name}.") from None
        raise


class LogDownload:
    """The engine's log of one container as plain bytes (frames' headers removed), read block by block.

    `open()` makes the request (errors raise EngineError before any byte is sent);
    `read()` returns the next block, b"" at the end; `close()` releases the stream.
    """

    def __init__(self, endpoint: Endpoint, container_id: str, query: LogQuery, tty: bool) -> None:
        self.endpoint, self.container_id, self.query = endpoint, container_id, query
        self.text = PlainLog(tty, timestamps=query.timestamps)
        self._stack = ExitStack()
        self._stream: EngineStream | None = None
        self._chunks: Any = iter(())

    def open(self) -> None:
        with ExitStack() as stack:
            client = stack.enter_context(endpoint_client(self.endpoint, timeout=60))
            self._stream = open_stream(client.api, "/containers/{0}/logs", self.container_id,
                                       self.query.engine_params())
            self._chunks = self._stream.chunks()
            self._stack = stack.pop_all()

    def read(self) -> bytes:
        out = bytearray()
        try:
            while len(out) < READ_BLOCK:
                chunk = next(self._chunks, None)
                if chunk is None:
                    out += self.text.flush()
                    break
                out += self.text.feed(chunk)
        except (OSError, urllib3.exceptions.HTTPError, requests.RequestException):
            pass  # the engine went away mid-log: the file ends here
        return bytes(out)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.abort()
            self._stream.close()
        self._stack.close()


async def _stream_body(download: LogDownload) -> AsyncIterator[bytes]:
    try:
        while data := await sync_to_async(download.read, thread_sensitive=False)():
            yield data
    finally:
        await sync_to_async(download.close, thread_sensitive=False)()


LOG_PARAMETERS = [
    OpenApiParameter("tail", str, description="Lines from the end: a number, or `all` (default: all when "
                                              "downloading, else 1000)."),
    OpenApiParameter("since", str, description="Only lines after this: unix seconds, an ISO time, or a span "
                                               "ago such as `15m`, `2h`, `1d`."),
    OpenApiParameter("timestamps", bool, description="Start each line with its RFC3339 time (default 0)."),
    OpenApiParameter("stdout", bool, description="Include standard output (default 1)."),
    OpenApiParameter("stderr", bool, description="Include standard error (default 1)."),
    OpenApiParameter("download", bool, description="Answer as a file to save (Content-Disposition: attachment)."),
]


class ContainerLogsView(APIView):
    """The container's log as text (stdout and stderr interleaved as written)."""

    required_action, required_resource = "container.logs", "cid"  # console/accounts/access.py

    @extend_schema(operation_id="container_logs", parameters=LOG_PARAMETERS,
                   responses={(200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="The log lines."),
                              400: OpenApiResponse(description="A query parameter is not valid."),
                              404: OpenApiResponse(description="No such endpoint or container.")})
    def get(self, request: Request, eid: int, cid: str) -> StreamingHttpResponse:
        endpoint = get_object_or_404(Endpoint, pk=eid)
        download = request.query_params.get("download", "") in ("1", "true", "yes")
        try:
            query = LogQuery.from_params(request.query_params, now=time.time(), default_tail=None if download else 1000,
                                         max_tail=None, default_follow=False)
        except ValueError as exc:
            field, _, message = str(exc).partition(": ")
            raise ValidationError({field: [message or str(exc)]}) from None
        container = _container(endpoint, cid)
        reader = LogDownload(endpoint, container["Id"], query, bool((container.get("Config") or {}).get("Tty")))
        reader.open()
        response = StreamingHttpResponse(_stream_body(reader), content_type="text/plain; charset=utf-8")
        if download:
            name = container["Name"].lstrip("/") or container["Id"][:12]
            stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
            response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.log"'
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "no-store"
        return response


POINT_FIELDS = {
    "t": serializers.FloatField(help_text="Unix seconds."),
    "cpu": serializers.FloatField(allow_null=True, help_text="CPU % (100 = one CPU), as `docker stats`."),
    "mem": serializers.IntegerField(help_text="Memory used, bytes (without inactive page cache)."),
    "mem_limit": serializers.IntegerField(help_text="Memory limit, bytes (the host's memory when unlimited)."),
    "mem_pct": serializers.FloatField(allow_null=True),
    "net_rx": serializers.FloatField(allow_null=True, help_text="Received, bytes per second."),
    "net_tx": serializers.FloatField(allow_null=True, help_text="Sent, bytes per second."),
    "blk_read": serializers.FloatField(allow_null=True, help_text="Block reads, bytes per second."),
    "blk_write": serializers.FloatField(allow_null=True, help_text="Block writes, bytes per second."),
    "pids": serializers.IntegerField(),
}


class ContainerStatsHistoryView(APIView):
    """Stats samples kept by the console (one every SAMPLE_INTERVAL seconds while running, for an hour)."""

    required_action, required_resource = "container.stats", "cid"

    @extend_schema(
        operation_id="container_stats_history",
        parameters=[OpenApiParameter("minutes", int, description=f"How far back, at most {HISTORY // 60} (default).")],
        responses={200: inline_serializer("StatsHistory", {
            "container": serializers.CharField(), "interval": serializers.IntegerField(),
            "points": inline_serializer("StatsPoint", POINT_FIELDS, many=True)})},
    )
    def get(self, request: Request, eid: int, cid: str) -> Response:
        endpoint = get_object_or_404(Endpoint, pk=eid)
        try:
            minutes = int(request.query_params.get("minutes") or HISTORY // 60)
        except ValueError:
            raise ValidationError({"minutes": ["a whole number of minutes"]}) from None
        container = _container(endpoint, cid)
        points = history(endpoint, container["Id"], minutes * 60)
        return Response({"container": container["Id"], "interval": SAMPLE_INTERVAL, "points": points})


class RenameSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255, help_text="The new name: letters, digits, '_', '.', '-'.")


class ContainerRenameView(APIView):
    """Rename the container (audited as container.rename)."""

    required_action, required_resource = "container.rename", "cid"

    @extend_schema(operation_id="container_rename", request=RenameSerializer,
                   responses={200: inline_serializer("Renamed", {"id": serializers.CharField(),
                                                                 "name": serializers.CharField()}),
                              400: OpenApiResponse(description="The name is not valid."),
                              409: OpenApiResponse(description="The name is in use.")})
    def post(self, request: Request, eid: int, cid: str) -> Response:
        endpoint = get_object_or_404(Endpoint, pk=eid)
        body = RenameSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            name = rename_container(request, endpoint, cid, body.validated_data["name"])
        except RenameError as exc:
            if exc.status is None:
                raise ValidationError({"name": [exc.message]}) from None
            raise EngineError(exc.message, exc.status) from None
        return Response({"id": _container(endpoint, name)["Id"], "name": name})
