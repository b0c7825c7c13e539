"""The hot path's SQL statements are counted, so they cannot grow unnoticed.

One consumed record costs, in the worker: the lock-and-read of the key's pending
rows, the tenant (cached after the first), the handler's own write, one
``bus.emit`` INSERT and the mark-done UPDATE, inside one transaction and one
savepoint. A change that adds a statement here must say why.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction

from project.messaging import bridge, bus, errors, inbox, registry, wire
from project.messaging.models import InboxMessage
from project.tenancy.rows import tenant_row
from tests.delivery import Record
from tests.echo.handlers import COMMAND_TOPIC_ECHO, EVENT_TOPIC_ECHO
from tests.support import at_most_queries

pytestmark = pytest.mark.django_db

# SAVEPOINT + SELECT … FOR UPDATE + Effect INSERT + outbox INSERT + UPDATE done + RELEASE,
# and the outer durable block's own SAVEPOINT/RELEASE in the test's transaction.
HANDLE_ONE_RECORD = 8
EMIT_ONE_RECORD = 1


def ping_record(tenant_key, offset: int, id_: int) -> Record:
    value = wire.dumps({"transactionId": str(uuid.uuid4()), "type": "PING", "body": {"id": id_}})
    return Record(
        wire.topic_name(COMMAND_TOPIC_ECHO), 0, offset, wire.key_u32(id_), value,
        tenant_key.kafka_headers(),
    )  # fmt: skip


def test_handling_one_record_costs_a_fixed_number_of_queries(
    tenant_key, django_capture_on_commit_callbacks
):
    # given a stored ping whose tenant row is already cached (a new row is cached
    # once its transaction commits: the test's never does, so that is played here)
    with django_capture_on_commit_callbacks(execute=True):
        tenant_row(tenant_key)
    bridge.store(registry.get("echo"), [ping_record(tenant_key, 0, 1)])
    row = InboxMessage.objects.get(tenant__uuid=tenant_key.id)

    # when it is handled, then the statement count is the pinned one
    with at_most_queries(HANDLE_ONE_RECORD) as captured:
        assert inbox.process(row.id, row.ordering_key) is None
    assert InboxMessage.objects.get(id=row.id).state == InboxMessage.State.DONE
    print(f"{len(captured.captured_queries)} queries to handle one record")


def test_one_emit_is_one_insert(tenant_key):
    tenant = tenant_row(tenant_key)
    with transaction.atomic(), at_most_queries(EMIT_ONE_RECORD):
        bus.emit(tenant=tenant, topic=EVENT_TOPIC_ECHO, key=wire.key_u32(1), value={"a": 1})


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (errors.Transient("x"), True),
        (TimeoutError(), True),
        (ConnectionError(), True),
        (ValueError(), False),
        (KeyError("x"), False),
        (TypeError(), False),
        (RuntimeError(), False),
    ],
)
def test_failures_are_sorted_into_transient_and_permanent(exc, transient):
    assert errors.is_transient(exc) is transient


def test_a_task_time_limit_and_database_errors_are_transient():
    from celery.exceptions import SoftTimeLimitExceeded
    from django import db

    assert errors.is_transient(SoftTimeLimitExceeded())
    assert errors.is_transient(db.OperationalError("database is locked"))
    assert errors.is_transient(db.IntegrityError("duplicate key"))
    assert not errors.is_transient(db.DataError("value too long"))


def test_the_compiled_lock_of_pending_rows_locks_where_the_database_can(tenant_key):
    from django.db import connection

    with transaction.atomic(), at_most_queries(1) as captured:
        inbox._lock_pending("echo:00")
    (query,) = captured.captured_queries
    assert ("FOR UPDATE" in query["sql"]) == connection.features.has_select_for_update
    assert "ORDER BY" in query["sql"] and "LIMIT" in query["sql"]


def test_compiled_statements_return_instances_as_the_orm_does(tenant_key):
    # given a stored, pending ping
    ((inbox_id, key),) = bridge.store(registry.get("echo"), [ping_record(tenant_key, 0, 7)])
    expected = InboxMessage.objects.get(id=inbox_id)

    # when it is read through the compiled statement
    with transaction.atomic():
        (row,) = inbox._lock_pending(key)

    # then every field holds what the ORM reads (converted: bytes, JSON, datetimes)
    for field in InboxMessage._meta.concrete_fields:
        assert getattr(row, field.attname) == getattr(expected, field.attname), field.name
    assert row.header_list == expected.header_list
