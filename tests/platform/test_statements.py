"""``statements.update_rows``: each row set to its own values, in one statement."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from project.db import statements
from project.messaging import bus, wire
from project.messaging.models import OutboxMessage
from tests.support import new_tenant

pytestmark = pytest.mark.django_db

SENT = dt.datetime(2026, 8, 6, 12, 30, 15, 123456, tzinfo=dt.UTC)


def test_update_rows_sets_each_row_to_its_own_values_and_leaves_the_others():
    tenant = new_tenant()
    with transaction.atomic():
        rows = [
            bus.emit(tenant=tenant, topic="EVENT_TOPIC_X", key=wire.key_u32(n), value={"type": "T"})
            for n in range(3)
        ]
    parked = rows[2].parked_at

    with CaptureQueriesContext(connection) as context, transaction.atomic():
        updated = statements.update_rows(
            OutboxMessage,
            ("sent_at", "message_type", "parked_at"),
            # a column of nothing but NULLs too (PostgreSQL must be told its type)
            [(rows[0].pk, SENT, "FIRST", None), (rows[1].pk, None, "SECOND", None)],
        )

    assert updated == 2
    assert len([q for q in context.captured_queries if q["sql"].startswith("UPDATE")]) == 1
    stored = {row.pk: row for row in OutboxMessage.objects.all()}
    assert (stored[rows[0].pk].sent_at, stored[rows[0].pk].message_type) == (SENT, "FIRST")
    assert (stored[rows[1].pk].sent_at, stored[rows[1].pk].message_type) == (None, "SECOND")
    assert (stored[rows[2].pk].message_type, stored[rows[2].pk].parked_at) == ("T", parked)
    assert statements.update_rows(OutboxMessage, ("sent_at",), []) == 0
