"""One PING through the real stack is one exported trace, on the ids its Kafka headers carry.

The bridge, the worker and the relay are restarted with ``TRACE_ENDPOINT`` pointing at
a real OTLP/gRPC receiver in this process, and restarted without it afterwards.
"""

from __future__ import annotations

import random
import uuid

import pytest

from project.messaging import wire
from tests.echo.handlers import COMMAND_TOPIC_ECHO, EVENT_TOPIC_ECHO
from tests.kafka_helpers import headers_of, value_of

pytestmark = [pytest.mark.e2e]

TRACED = ("bridge", "worker", "relay")


def _ping_and_wait(kafka_client, tenant_key, headers=(), timeout: float = 60):
    """One PING through the stack; returns its PONG."""
    pongs = kafka_client.reader(EVENT_TOPIC_ECHO)
    id_ = random.randrange(10_000_000, 4_000_000_000)
    command = {"transactionId": str(uuid.uuid4()), "type": "PING", "body": {"id": id_}}
    headers = [*headers, *tenant_key.kafka_headers()]
    kafka_client.produce(COMMAND_TOPIC_ECHO, command, key=wire.key_u32(id_), headers=headers)
    (pong,) = pongs.wait_for(lambda r: value_of(r).get("id") == id_, timeout=timeout)
    return pong


@pytest.fixture
def traced_stack(stack, kafka_client, tenant_key, otlp_receiver):
    # A bridge stopped while its groups are still joining leaves the broker waiting for
    # it for the whole rebalance timeout: restart only a stack that already works.
    _ping_and_wait(kafka_client, tenant_key)
    for name in TRACED:
        stack[name].stop()
    try:
        for name in TRACED:
            stack[name].start(
                {"TRACE_ENDPOINT": otlp_receiver.endpoint, "SERVICE_NAME": "atlas-e2e"}
            )
        yield stack
    finally:
        for name in TRACED:
            stack[name].stop()
            stack[name].start()


def test_consume_handle_create_and_publish_spans_follow_the_traceparent(
    traced_stack, kafka_client, tenant_key, otlp_receiver
):
    # given a command carrying a traceparent
    inbound = wire.TraceParent(uuid.uuid4().hex, "00f067aa0ba902b7", "01")

    # when it goes through bridge, worker and relay
    pong = _ping_and_wait(
        kafka_client, tenant_key, [(wire.TRACEPARENT, str(inbound).encode())], timeout=90
    )
    produced = wire.TraceParent.parse(headers_of(pong)[wire.TRACEPARENT])

    # then the collector holds the same trace the headers tell
    spans = otlp_receiver.wait_for(inbound.trace_id, ["consume", "handle", "create", "publish"])
    consume, handle, create, publish = (
        spans[n] for n in ("consume", "handle", "create", "publish")
    )
    assert produced.trace_id == inbound.trace_id
    assert consume.parent_span_id == inbound.span_id
    assert consume.name == f"consume {wire.topic_name(COMMAND_TOPIC_ECHO)}"
    assert consume.attributes["messaging.consumer.group.name"] == "Echo Service"
    assert handle.parent_span_id == inbound.span_id and handle.name == "handle PING"
    # the PONG's own span id is the exported create span, under handle
    assert create.span_id == produced.span_id and create.child_of(handle)
    # and the relay's publish span is that record's child
    assert publish.child_of(create)
    assert publish.name == f"publish {wire.topic_name(EVENT_TOPIC_ECHO)}"
    assert {s.service for s in spans.values()} == {"atlas-e2e"}
    assert {s.kind for s in (consume, handle)} == {"CONSUMER"}
    assert {s.kind for s in (create, publish)} == {"PRODUCER"}
