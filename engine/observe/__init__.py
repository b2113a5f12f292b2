"""How the engine observes itself: structured logs with request ids, Prometheus
metrics, OpenTelemetry traces, and the readiness check.

The modules here are leaves: services call their small hooks (`metrics.count_*`,
`tracing.traced`) and never depend on how they are exported. Tracing imports
nothing of OpenTelemetry until it is enabled.
"""
