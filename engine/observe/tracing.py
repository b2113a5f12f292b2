"""OpenTelemetry traces of the engine: off by default, and free when off.

Tracing is on when the engine runs with `--otel` or with
`OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` set (and
`OTEL_SDK_DISABLED` is not `true`). Only then is OpenTelemetry imported; spans go
to the OTLP/HTTP exporter, which reads the standard `OTEL_EXPORTER_OTLP_*`
variables, through a batch processor (`OTEL_BSP_*`). The service name is
`OTEL_SERVICE_NAME`, else `berth-engine`.

What is traced:
- every API request, as a SERVER span named `METHOD /route/{template}` that
  continues the caller's trace when the request carries a W3C `traceparent`
  (`server_span`, `annotate_server_span`);
- functions marked `@traced(...)` (container start, rootfs mount, network
  attach, conmon/runc calls), as INTERNAL spans — but only inside a span that is
  still recording, so background work (health probes, exits seen later) never
  starts traces of its own.

Off, `server_span` yields None and `@traced` functions cost one global lookup.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar, cast

DEFAULT_SERVICE_NAME = "berth-engine"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

F = TypeVar("F", bound=Callable[..., Any])
SpanName = str | Callable[..., str]

_tracer: Any = None  # an opentelemetry Tracer while tracing is on
_provider: Any = None


def wanted(flag: bool, env: Mapping[str, str]) -> bool:
    """Whether the engine should trace: `--otel`, or an OTLP endpoint in the environment."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return flag or any(env.get(name) for name in ENDPOINT_VARIABLES)


def enabled() -> bool:
    return _tracer is not None


def setup(exporter: Any = None, service_name: str | None = None) -> None:
    """Turn tracing on. `exporter` (a SpanExporter, exported span by span) replaces OTLP/HTTP, for tests."""
    global _tracer, _provider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    name = service_name or os.environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    _provider = provider
    _tracer = provider.get_tracer("engine")


def shutdown() -> None:
    """Export what is pending and turn tracing off."""
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    _tracer = _provider = None


@contextmanager
def server_span(method: str, path: str, headers: Mapping[str, str]) -> Iterator[Any]:
    """The SERVER span of one API request, current for everything run inside; None when off."""
    if _tracer is None:
        yield None
        return
    from opentelemetry.trace import SpanKind
    from opentelemetry.trace.propagation.tracecontext import (
        TraceContextTextMapPropagator,
    )

    parent = TraceContextTextMapPropagator().extract(headers)
    attributes = {"http.request.method": method, "url.path": path}
    with _tracer.start_as_current_span(method, context=parent, kind=SpanKind.SERVER, attributes=attributes) as span:
        yield span


def annotate_server_span(span: Any, method: str, route: str, status: int, request_id: str) -> None:
    """Name the span by its route template and record the reply's status."""
    if span is None:
        return
    from opentelemetry.trace import Status, StatusCode

    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    span.set_attribute("berth.request_id", request_id)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))


def current_ids() -> dict[str, str] | None:
    """The current trace and span ids (hex), for log lines; None when off or outside a span."""
    if _tracer is None:
        return None
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return {"trace_id": format(ctx.trace_id, "032x"), "span_id": format(ctx.span_id, "016x")}


def traced(name: SpanName) -> Callable[[F], F]:
    """Mark a function (sync or async) as a child span; `name` may be computed from the call's arguments."""

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def traced_coroutine(*args: Any, **kwargs: Any) -> Any:
                if _tracer is None or not _recording():
                    return await fn(*args, **kwargs)
                with _tracer.start_as_current_span(_span_name(name, args, kwargs)):
                    return await fn(*args, **kwargs)

            return cast(F, traced_coroutine)

        @functools.wraps(fn)
        def traced_call(*args: Any, **kwargs: Any) -> Any:
            if _tracer is None or not _recording():
                return fn(*args, **kwargs)
            with _tracer.start_as_current_span(_span_name(name, args, kwargs)):
                return fn(*args, **kwargs)

        return cast(F, traced_call)

    return decorate


def _recording() -> bool:
    from opentelemetry import trace

    return bool(trace.get_current_span().is_recording())


def _span_name(name: SpanName, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    return name if isinstance(name, str) else name(*args, **kwargs)
