"""Observability: metrics, readiness, consumer diagnostics, traces and logs.

- ``metrics``: the Prometheus instruments the bridge, workers and relay update,
  and the exposition served by ``GET /api/metrics`` (all processes of a machine
  share prometheus-client's multiprocess directory, ``PROMETHEUS_MULTIPROC_DIR``).
- ``state``: gauges computed at scrape time from the database (inbox and outbox
  backlogs) and from Kafka (consumer lag), so the hot path counts nothing for them.
- ``kafka_state``: consumer groups, committed and end offsets, and the partitions
  each bridge reports it holds (``GET /api/debug/consumers``).
- ``readiness``: ``GET /api/readyz``.
- ``tracing``: OpenTelemetry spans over OTLP gRPC when ``TRACE_ENDPOINT`` is set.
- ``logs``: JSON lines (``LOG_FORMAT=json``) and the filter that keeps idle
  periodic tasks quiet.
- ``observe``: the one-line hooks the messaging code calls.
"""
