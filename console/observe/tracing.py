"""OpenTelemetry traces of the console: off by default, and free when off.

Tracing is on when the process starts with `BERTH_OTEL=1`, or with
`OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` set (and
`OTEL_SDK_DISABLED` is not `true`); console.observe's AppConfig then calls
`setup()`. Only then is OpenTelemetry imported. Spans go to the OTLP/HTTP
exporter, which reads the standard `OTEL_EXPORTER_OTLP_*` variables, through a
batch processor; the service name is `OTEL_SERVICE_NAME`, else `berth-console`.

What is traced:
- every Django request, as a SERVER span `METHOD route-name` continuing a W3C
  `traceparent` the request carries (console/observe/middleware.py);
- every websocket handshake, as a SERVER span `WS Consumer` that ends when the
  consumer accepts or refuses (console/observe/asgi.py);
- every engine API call made inside a recording span, as a CLIENT span
  `engine METHOD /path/{id}` whose context goes to the engine in `traceparent`
  (console/observe/outgoing.py) — so the engine's spans join the same trace.
  Calls outside any span (periodic tasks) start no traces of their own.

Off, `server_span` and `client_span` yield None after one global lookup.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

DEFAULT_SERVICE_NAME = "berth-console"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
TRUE_WORDS = ("1", "true", "yes", "on")

_tracer: Any = None  # an opentelemetry Tracer while tracing is on
_provider: Any = None


def wanted(env: Mapping[str, str]) -> bool:
    """Whether the console should trace: BERTH_OTEL=1, or an OTLP endpoint in the environment."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return env.get("BERTH_OTEL", "").strip().lower() in TRUE_WORDS or any(env.get(n) for n in ENDPOINT_VARIABLES)


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
    _tracer = provider.get_tracer("console")


def shutdown() -> None:
    """Export what is pending and turn tracing off."""
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    _tracer = _provider = None


@contextmanager
def server_span(name: str, headers: Mapping[str, str], attributes: dict[str, Any],
                end_on_exit: bool = True) -> Iterator[Any]:
    """A SERVER span, current for everything run inside, continuing the caller's `traceparent`; None when off.

    With `end_on_exit=False` the caller ends it (`end_span`) — a websocket's span
    ends at its handshake while the connection goes on inside the block.
    """
    if _tracer is None:
        yield None
        return
    from opentelemetry.trace import SpanKind
    from opentelemetry.trace.propagation.tracecontext import (
        TraceContextTextMapPropagator,
    )

    parent = TraceContextTextMapPropagator().extract(headers)
    with _tracer.start_as_current_span(name, context=parent, kind=SpanKind.SERVER, attributes=attributes,
                                       end_on_exit=end_on_exit) as span:
        yield span


def finish_server_span(span: Any, name: str, route: str, status: int, request_id: str) -> None:
    """Name the span by its route and record the answer's status (5xx marks it an error)."""
    if span is None:
        return
    from opentelemetry.trace import Status, StatusCode

    span.update_name(name)
    span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    span.set_attribute("berth.request_id", request_id)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))


def end_span(span: Any) -> None:
    if span is not None and span.is_recording():
        span.end()


@contextmanager
def client_span(name: str, headers: MutableMapping[str, Any], attributes: dict[str, Any]) -> Iterator[Any]:
    """A CLIENT span for one outgoing call whose context is written into `headers` (`traceparent`).

    None — and no header — when tracing is off or no recording span is current.
    """
    if _tracer is None:
        yield None
        return
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind
    from opentelemetry.trace.propagation.tracecontext import (
        TraceContextTextMapPropagator,
    )

    if not trace.get_current_span().is_recording():
        yield None
        return
    with _tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes) as span:
        TraceContextTextMapPropagator().inject(headers)
        yield span


def finish_client_span(span: Any, status: int) -> None:
    if span is None:
        return
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))


def capture() -> Any:
    """The current OpenTelemetry context, to carry into another thread (`attached`); None when off."""
    if _tracer is None:
        return None
    from opentelemetry import context

    return context.get_current()


@contextmanager
def attached(captured: Any) -> Iterator[None]:
    """Make a `capture()`d context current for the block (nothing when it is None)."""
    if captured is None:
        yield
        return
    from opentelemetry import context

    token = context.attach(captured)
    try:
        yield
    finally:
        context.detach(token)


def current_ids() -> tuple[str, str] | None:
    """The current trace and span ids (hex), for log lines; None when off or outside a span."""
    if _tracer is None:
        return None
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
