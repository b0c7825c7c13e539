"""The relay's next batch: unsent rows in id order, as many as the setting says now."""

from __future__ import annotations

import pytest

from project.messaging import relay, wire
from project.messaging.models import OutboxMessage, store_headers
from tests.platform.conftest import new_tenant

pytestmark = pytest.mark.django_db


def test_the_batch_follows_the_setting_on_every_read(settings):
    tenant = new_tenant()
    for _ in range(4):
        OutboxMessage.objects.create(
            topic="EVENT_TOPIC_ECHO",
            key=wire.key_u32(9),
            value=b'{"type":"PONG"}',
            headers=store_headers(tenant.key.kafka_headers()),
            message_type="PONG",
            tenant=tenant,
        )
    # given a first read with one batch size (the statement is compiled then)
    settings.OUTBOX_RELAY_BATCH = 3
    assert len(relay.next_rows()) == 3

    # when the setting changes, then the next read takes the new size
    settings.OUTBOX_RELAY_BATCH = 2
    assert len(relay.next_rows()) == 2
    assert len(relay.next_rows(missing={"EVENT_TOPIC_OTHER"})) == 2
    # and the rows come oldest first
    first = relay.next_rows()
    assert [row.id for row in first] == sorted(row.id for row in first)
