"""The relay's parts that need no broker: its next batch, and no test hook in it.

(The relay against a broker: tests/e2e/test_platform_pipeline.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from project.messaging import relay, wire
from project.messaging.models import OutboxMessage, store_headers
from tests.support import new_tenant

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


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


def test_the_crash_hook_is_the_tests_own(monkeypatch):
    # the relay crash test's fault lives in the tests' echo app, on relay.acknowledged
    from tests.echo import faults

    monkeypatch.delenv(faults.RELAY_FAULT_ENV, raising=False)
    answered = relay.acknowledged.send(relay.Relay, ids=[1])
    assert faults.crash_after_publish in [receiver for receiver, _ in answered]
    # and nothing the project ships can end its process that way
    shipped = ["project", "invites", "parties", "messengers", "transport", "notes"]
    exits = [
        str(path.relative_to(ROOT))
        for package in shipped
        for path in (ROOT / package).rglob("*.py")
        if "_exit(" in path.read_text()
    ]
    assert exits == []
