"""OpenTelemetry spans of the pipeline, exported over OTLP gRPC when ``TRACE_ENDPOINT`` is set.

Upstream's variables: ``TRACE_ENDPOINT`` (the collector, ``host:port`` or a URL;
no scheme or ``http://`` means a plain-text channel, as upstream's in-cluster
collector) and ``TRACE_SAMPLING_RATIO`` (a parent-based ratio sampler, default
1.0). Unset: no provider, no exporter, no thread; every function here returns at once.

The spans use the ids the project already puts on the wire, so the trace in
Kafka headers and the exported trace are one and the same:

- **consume** (bridge, kind CONSUMER): child of the consumed record's ``traceparent``.
- **handle** (worker, CONSUMER): child of the same ``traceparent``; a record with
  none is handled in a new root trace whose ids are the ones its produced records
  carry. While it runs, the cause of emitted records is a ``SpanTrace`` naming
  this span, so each produced record's new span id (``TraceParent.child``) is
  exported as a **create** span (PRODUCER) with exactly that id, under handle.
- **publish** (relay, PRODUCER): child of the published row's own ``traceparent``,
  that is of its create span; a downstream consumer's span is that create span's
  child too.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from collections.abc import Iterator

from django.conf import settings
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

from project.messaging import wire

_lock = threading.Lock()
_state: dict = {"pid": None, "tracer": None, "provider": None}

# The span id (and, for a root, trace id) the next span must have; read by _Ids.
_forced: contextvars.ContextVar[tuple[int | None, int | None] | None] = contextvars.ContextVar(
    "atlas_forced_span_ids", default=None
)


def enabled() -> bool:
    return bool(getattr(settings, "TRACE_ENDPOINT", ""))


def tracer():
    """This process's tracer, made on first use (after a fork too), or ``None`` when off."""
    if not enabled():
        return None
    pid = os.getpid()
    if _state["pid"] == pid:
        return _state["tracer"]
    with _lock:
        if _state["pid"] != pid:
            _state["provider"] = _provider()
            _state["tracer"] = _state["provider"].get_tracer("atlas")
            _state["pid"] = pid
    return _state["tracer"]


def _provider():
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    endpoint = settings.TRACE_ENDPOINT
    insecure = None if "://" in endpoint else True
    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.TRACE_SERVICE_NAME}),
        sampler=ParentBased(TraceIdRatioBased(settings.TRACE_SAMPLING_RATIO)),
        id_generator=_Ids(),
    )
    exporter = OTLPSpanExporter(endpoint=endpoint, insecure=insecure)
    # Half a second, not the SDK's 5 s: spans of a short-lived process reach the
    # collector before it exits, and a test does not wait long.
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=500))
    return provider


def flush(timeout_ms: int = 5000) -> None:
    """Export what is buffered (tests; a process about to exit)."""
    provider = _state["provider"]
    if provider is not None and _state["pid"] == os.getpid():
        provider.force_flush(timeout_ms)


def reset() -> None:
    """Forget this process's provider (tests that change ``TRACE_ENDPOINT``)."""
    with _lock:
        provider = _state["provider"]
        if provider is not None and _state["pid"] == os.getpid():
            provider.shutdown()
        _state.update(pid=None, tracer=None, provider=None)


class _Ids(RandomIdGenerator):
    """Random ids, except where the span must carry an id already on the wire."""

    def generate_span_id(self) -> int:
        forced = _forced.get()
        if forced is not None and forced[0] is not None:
            return forced[0]
        return super().generate_span_id()

    def generate_trace_id(self) -> int:
        forced = _forced.get()
        if forced is not None and forced[1] is not None:
            return forced[1]
        return super().generate_trace_id()


def _parent(trace: wire.TraceParent | None, *, remote: bool = True):
    """An OpenTelemetry context whose current span is ``trace`` (a W3C traceparent)."""
    from opentelemetry import trace as api
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    if trace is None:
        return None
    span_context = SpanContext(
        trace_id=int(trace.trace_id, 16),
        span_id=int(trace.span_id, 16),
        is_remote=remote,
        trace_flags=TraceFlags(int(trace.flags, 16) & 1),
    )
    return api.set_span_in_context(NonRecordingSpan(span_context))


def _kind(name: str):
    from opentelemetry.trace import SpanKind

    return getattr(SpanKind, name)


def _start(name: str, kind: str, *, parent=None, span_id=None, trace_id=None, **kwargs):
    token = _forced.set((span_id, trace_id)) if span_id or trace_id else None
    try:
        return tracer().start_span(name, context=parent, kind=_kind(kind), **kwargs)
    finally:
        if token is not None:
            _forced.reset(token)


def _flags(span) -> str:
    return "01" if span.get_span_context().trace_flags.sampled else "00"


class SpanTrace(wire.TraceParent):
    """The cause's trace while a handle span runs: ``child()`` exports a create span.

    ``span_id`` is the handle span's id, so the new span ids of produced records
    (``TraceParent.child``, called by ``bus.emit``) are its children on the wire
    and, through the create span exported with that very id, in the collector.
    """

    __slots__ = ()

    def child(self) -> wire.TraceParent:
        produced = super().child()
        if tracer() is not None:
            span = _start(
                "create",
                "PRODUCER",
                parent=_parent(self, remote=False),
                span_id=int(produced.span_id, 16),
                attributes={"messaging.operation.type": "create"},
            )
            span.end()
        return produced


@contextlib.contextmanager
def handle_span(row, trace: wire.TraceParent) -> Iterator[wire.TraceParent]:
    """The handle span of one inbox row; yields the trace its emitted records descend from."""
    if tracer() is None:
        yield trace
        return
    from opentelemetry.trace import Status, StatusCode

    from_header = wire.TraceParent.parse(wire.header(row.header_list, wire.TRACEPARENT))

    attributes = {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.destination.name": row.topic,
        "messaging.consumer.group.name": row.consumer_group,
        "messaging.kafka.offset": row.offset,
        "messaging.destination.partition.id": str(row.partition),
        "atlas.app": row.app,
        "atlas.message_type": row.message_type,
        "atlas.inbox_id": row.id,
    }
    if from_header is not None:
        span = _start(
            f"handle {row.message_type}", "CONSUMER", parent=_parent(trace), attributes=attributes
        )
    else:  # a new root: the ids its produced records already carry
        span = _start(
            f"handle {row.message_type}",
            "CONSUMER",
            span_id=int(trace.span_id, 16),
            trace_id=int(trace.trace_id, 16),
            attributes=attributes,
        )
    span_id = format(span.get_span_context().span_id, "016x")
    try:
        yield SpanTrace(trace.trace_id, span_id, _flags(span))
    except BaseException as exc:
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        span.end()


def consume_spans(app: str, group: str, records: list, start_ns: int, end_ns: int) -> None:
    """One consume span per polled record, from the poll to the inbox commit."""
    if tracer() is None:
        return
    for record in records:
        _messaging_span(
            "consume",
            "CONSUMER",
            "receive",
            record.topic,
            record.headers or [],
            start_ns,
            end_ns,
            {
                "messaging.consumer.group.name": group,
                "messaging.destination.partition.id": str(record.partition),
                "messaging.kafka.offset": record.offset,
                "atlas.app": app,
            },
        )


def publish_spans(rows: list, start_ns: int, end_ns: int) -> None:
    """One publish span per acknowledged outbox row, child of the row's own traceparent."""
    if tracer() is None:
        return
    for row in rows:
        _messaging_span(
            "publish",
            "PRODUCER",
            "send",
            row.topic,
            row.header_list,
            start_ns,
            end_ns,
            {"atlas.outbox_id": row.id},
        )


def _messaging_span(
    verb: str,
    kind: str,
    operation: str,
    topic: str,
    headers: list,
    start_ns: int,
    end_ns: int,
    attributes: dict,
) -> None:
    """A finished span of one Kafka record, child of the traceparent in its headers."""
    parent = wire.TraceParent.parse(wire.header(headers, wire.TRACEPARENT))
    span = _start(
        f"{verb} {topic}",
        kind,
        parent=_parent(parent),
        start_time=start_ns,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": operation,
            "messaging.destination.name": topic,
            **attributes,
        },
    )
    span.end(end_time=end_ns)
