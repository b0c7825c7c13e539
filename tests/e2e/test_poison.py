"""Poison records through the real broker: the partition and the relay go on."""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction

from project.messaging import bus, wire
from project.messaging.models import InboxMessage, OutboxMessage
from project.tenancy.rows import tenant_row
from tests.echo.handlers import COMMAND_TOPIC_ECHO, EVENT_TOPIC_ECHO
from tests.kafka_helpers import value_of
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e]


class RawHeaderName(str):
    """A header name whose bytes on the wire are not UTF-8 (ff fe), as a foreign
    producer can send; kafka-python encodes header names with ``str.encode``."""

    def encode(self, *args, **kwargs) -> bytes:  # type: ignore[override]
        return b"\xff\xfe"


def ping(id_: int, seq: int) -> dict:
    return {"transactionId": str(uuid.uuid4()), "type": "PING", "body": {"id": id_, "seq": seq}}


def test_a_header_name_that_is_not_utf8_is_a_dead_letter_and_the_partition_goes_on(
    kafka_client, tenant_key
):
    # given a reader of pongs
    pongs = kafka_client.reader(EVENT_TOPIC_ECHO)
    key = wire.key_u32(8101)

    # when a ping with a non-UTF-8 header name is produced, then a good one
    kafka_client.produce(
        COMMAND_TOPIC_ECHO,
        ping(8101, 1),
        key=key,
        headers=[*tenant_key.kafka_headers(), (RawHeaderName("bad"), b"v")],
    )
    kafka_client.produce(
        COMMAND_TOPIC_ECHO, ping(8101, 2), key=key, headers=tenant_key.kafka_headers()
    )

    # then the good one is answered, and the bad one is a dead letter naming the header
    (pong,) = pongs.wait_for(lambda r: value_of(r)["id"] == 8101, timeout=30)
    assert value_of(pong)["seq"] == 2
    dead = wait_until(
        lambda: InboxMessage.objects.filter(
            app="echo", state="dead", error__contains="header names not valid UTF-8"
        ).first(),
        what="the dead letter",
    )
    assert "\\xff\\xfe" in dead.error


def test_an_outbox_row_the_broker_refuses_is_parked_and_later_rows_are_published(
    kafka_client, tenant_key, monkeypatch
):
    # given a reader, and two committed outbox rows: one over the producer's 1 MiB limit
    # (bus.emit refuses such a record where it is made; one may still be stored, e.g.
    # before a broker's limit was lowered: played by lifting emit's bound here)
    monkeypatch.setattr(bus, "MAX_RECORD_BYTES", 2 * 1024 * 1024)
    pongs = kafka_client.reader(EVENT_TOPIC_ECHO)
    tenant = tenant_row(tenant_key)
    with transaction.atomic():
        big = bus.emit(
            tenant=tenant,
            topic=EVENT_TOPIC_ECHO,
            key=wire.key_u32(8201),
            value={"id": 8201, "type": "BIG", "pad": "x" * 1_100_000},
        )
        bus.emit(
            tenant=tenant,
            topic=EVENT_TOPIC_ECHO,
            key=wire.key_u32(8201),
            value={"id": 8201, "seq": 2, "type": "AFTER"},
        )

    # then the later row is published, and the big one is parked with the broker's reason
    (after,) = pongs.wait_for(lambda r: value_of(r)["id"] == 8201, timeout=30)
    assert value_of(after)["type"] == "AFTER"
    parked = wait_until(
        lambda: OutboxMessage.objects.filter(id=big.id).exclude(parked_at=None).first(),
        what="the big row parked",
    )
    assert parked.sent_at is None
    assert "MessageSizeTooLarge" in parked.error
