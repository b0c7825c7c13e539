"""A real OTLP/gRPC trace receiver: the collector's TraceService from opentelemetry-proto.

Spans exported to it are kept as plain ``ReceivedSpan`` values (hex ids) for
assertions; ``wait_for`` waits with a deadline for the ones a test expects.
"""

from __future__ import annotations

import threading
from concurrent import futures
from dataclasses import dataclass

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from tests.waiting import wait_until

KINDS = {1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_span_id: str
    service: str
    attributes: dict

    def child_of(self, other: ReceivedSpan) -> bool:
        return self.trace_id == other.trace_id and self.parent_span_id == other.span_id


def _value(any_value) -> object:
    field = any_value.WhichOneof("value")
    return getattr(any_value, field) if field else None


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: OtlpReceiver) -> None:
        self.receiver = receiver

    def Export(self, request, context):
        received = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            name=span.name,
                            kind=KINDS.get(span.kind, str(span.kind)),
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            service=str(resource.get("service.name", "")),
                            attributes={a.key: _value(a.value) for a in span.attributes},
                        )
                    )
        with self.receiver.lock:
            self.receiver.spans.extend(received)
        return trace_service_pb2.ExportTraceServiceResponse()


class OtlpReceiver:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spans: list[ReceivedSpan] = []
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(self), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.endpoint = f"127.0.0.1:{self.port}"

    def of_trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self.lock:
            return [span for span in self.spans if span.trace_id == trace_id]

    def wait_for(self, trace_id: str, names: list[str], timeout: float = 30) -> dict:
        """The first span of each name prefix in ``names`` within the trace, once all arrived."""

        def found() -> dict | None:
            spans = self.of_trace(trace_id)
            picked = {}
            for prefix in names:
                match = next((s for s in spans if s.name.startswith(prefix)), None)
                if match is None:
                    return None
                picked[prefix] = match
            return picked

        return wait_until(found, timeout=timeout, what=f"spans {names} of trace {trace_id}")

    def close(self) -> None:
        self.server.stop(grace=None)
