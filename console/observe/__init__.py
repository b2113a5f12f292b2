"""How the console observes itself: probes, Prometheus metrics, OpenTelemetry traces, request ids in logs.

- `context`: the request id of the work at hand (a context variable) and how one is chosen.
- `logs`: text or JSON-lines log records, each carrying that id (and trace ids when tracing is on).
- `middleware` / `asgi`: a Django middleware around every HTTP request and an ASGI wrapper around
  every websocket — request id, server span, metrics.
- `outgoing`: what every engine API call carries (X-Request-Id, traceparent) and its client span.
- `metrics` / `task_metrics`: the console's Prometheus registry; Celery task figures pushed by the
  workers through Redis and read back at scrape time.
- `tracing`: OpenTelemetry, imported only when it is turned on.
- `health`: the readiness checks behind /healthz/ready; `views`/`urls`: the probes and /metrics.

The modules are leaves: the rest of the console calls their small hooks and never depends on how
anything is exported.
"""
