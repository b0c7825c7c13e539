"""Spans exported over OTLP to a real gRPC receiver carry the ids that travel in Kafka headers.

In-process: the hooks the bridge, worker and relay call (``observe`` and
``tracing``) with ``TRACE_ENDPOINT`` pointed at the receiver of the test.
"""

from __future__ import annotations

import uuid
from collections import namedtuple
from types import SimpleNamespace

import pytest
from django.db import transaction

from project.messaging import bus, wire
from project.messaging.models import InboxMessage, store_headers
from project.observability import observe, tracing
from project.tenancy import TenantKey
from project.tenancy.rows import tenant_row

Record = namedtuple("Record", "topic partition offset headers")


@pytest.fixture
def traced(settings, otlp_receiver):
    settings.TRACE_ENDPOINT = otlp_receiver.endpoint
    tracing.reset()
    yield otlp_receiver
    tracing.reset()


def _row(headers: list[tuple[str, bytes]]) -> InboxMessage:
    return InboxMessage(
        id=41,
        app="echo",
        consumer_group="Echo Service",
        topic="COMMAND_TOPIC_ECHO",
        partition=0,
        offset=17,
        key=wire.key_u32(5),
        headers=store_headers(headers),
        message_type="PING",
    )


def _handle_and_emit(row: InboxMessage, trace: wire.TraceParent, tenant):
    message = SimpleNamespace(trace=trace, environment="", tenant=tenant)
    with transaction.atomic(), observe.handling(row, message) as cause, bus.caused_by(cause):
        first = bus.emit(tenant=tenant, topic="EVENT_TOPIC_ECHO", key=b"k1", value={"a": 1})
        second = bus.emit(tenant=tenant, topic="EVENT_TOPIC_ECHO", key=b"k2", value={"a": 2})
    return first, second


def _produced_trace(row) -> wire.TraceParent:
    return wire.TraceParent.parse(wire.header(row.header_list, wire.TRACEPARENT))


@pytest.mark.django_db(transaction=True)
def test_consume_handle_create_and_publish_spans_use_the_wire_ids(traced):
    # given a consumed record with a traceparent
    tenant = tenant_row(TenantKey(uuid.uuid4(), "GMS", 83, 1))
    inbound = wire.TraceParent(uuid.uuid4().hex, "00f067aa0ba902b7", "01")
    headers = [(wire.TRACEPARENT, str(inbound).encode()), *tenant.key.kafka_headers()]

    # when the bridge stores it, a worker handles it (emitting two records) and the relay publishes
    started = observe.clock()
    tracing.consume_spans(
        "echo", "Echo Service", [Record("COMMAND_TOPIC_ECHO", 0, 17, headers)], started, started
    )
    first, second = _handle_and_emit(_row(headers), inbound, tenant)
    tracing.publish_spans([first, second], observe.clock(), observe.clock())
    tracing.flush()

    # then every span is in the record's trace, hung where the Kafka headers say
    spans = traced.wait_for(inbound.trace_id, ["consume", "handle", "create", "publish"])
    consume, handle = spans["consume"], spans["handle"]
    assert consume.parent_span_id == inbound.span_id and consume.kind == "CONSUMER"
    assert handle.parent_span_id == inbound.span_id and handle.name == "handle PING"
    assert handle.attributes["atlas.app"] == "echo"
    assert handle.service == "atlas-social"
    received = traced.of_trace(inbound.trace_id)
    creates = {s.span_id: s for s in received if s.name == "create"}
    publishes = [s for s in received if s.name.startswith("publish")]
    # each produced record's own span id is an exported create span, child of handle
    for produced in (first, second):
        trace = _produced_trace(produced)
        assert trace.trace_id == inbound.trace_id
        assert creates[trace.span_id].child_of(handle)
        assert creates[trace.span_id].kind == "PRODUCER"
    # and the relay's publish spans are children of those very ids
    assert len(creates) == 2
    assert sorted(p.parent_span_id for p in publishes) == sorted(creates)
    assert {p.name for p in publishes} == {"publish EVENT_TOPIC_ECHO"}


@pytest.mark.django_db(transaction=True)
def test_a_record_without_traceparent_is_handled_in_the_root_its_records_carry(traced):
    tenant = tenant_row(TenantKey(uuid.uuid4(), "GMS", 83, 1))
    root = wire.TraceParent.root()  # what the inbox makes for a record with no traceparent

    first, _ = _handle_and_emit(_row(tenant.key.kafka_headers()), root, tenant)
    tracing.flush()

    spans = traced.wait_for(root.trace_id, ["handle", "create"])
    assert spans["handle"].span_id == root.span_id and spans["handle"].parent_span_id == ""
    assert _produced_trace(first).trace_id == root.trace_id
    assert spans["create"].child_of(spans["handle"])


@pytest.mark.django_db(transaction=True)
def test_nothing_is_traced_and_no_exporter_made_without_trace_endpoint(settings):
    settings.TRACE_ENDPOINT = ""
    tracing.reset()
    tenant = tenant_row(TenantKey(uuid.uuid4(), "GMS", 83, 1))
    inbound = wire.TraceParent(uuid.uuid4().hex, "00f067aa0ba902b7", "01")

    first, _ = _handle_and_emit(_row([(wire.TRACEPARENT, str(inbound).encode())]), inbound, tenant)

    assert tracing.tracer() is None
    assert tracing._state["provider"] is None
    # the wire is as before: same trace, a new span id per produced record
    produced = _produced_trace(first)
    assert produced.trace_id == inbound.trace_id and produced.span_id != inbound.span_id


@pytest.mark.django_db(transaction=True)
def test_sampling_follows_the_parent_and_the_ratio_for_new_roots(traced, settings):
    settings.TRACE_SAMPLING_RATIO = 0.0
    tracing.reset()
    tenant = tenant_row(TenantKey(uuid.uuid4(), "GMS", 83, 1))
    root = wire.TraceParent.root()
    sampled_parent = wire.TraceParent(uuid.uuid4().hex, "00f067aa0ba902b7", "01")

    # a new root is not sampled at ratio 0: nothing exported, its records say so
    unsampled, _ = _handle_and_emit(_row(tenant.key.kafka_headers()), root, tenant)
    # a record whose sender sampled it is traced whatever the ratio (parent-based)
    headers = [(wire.TRACEPARENT, str(sampled_parent).encode())]
    sampled, _ = _handle_and_emit(_row(headers), sampled_parent, tenant)
    tracing.flush()

    traced.wait_for(sampled_parent.trace_id, ["handle", "create"])
    assert _produced_trace(sampled).flags == "01"
    assert traced.of_trace(root.trace_id) == []
    assert _produced_trace(unsampled).flags == "00"
    assert _produced_trace(unsampled).trace_id == root.trace_id
