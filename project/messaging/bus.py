"""``emit``: buffer an outbound record in the caller's transaction.

A domain service calls ``emit`` inside its ``transaction.atomic`` block. The row
commits or rolls back with the state change, so an event leaves only for state
that was committed. After commit the relay is woken through Redis; if that fails
it still finds the row on its next poll.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kafka import KafkaProducer
from kafka.record.default_records import DefaultRecordBatchBuilder

from project.db import statements
from project.messaging import coordination, wire
from project.messaging.errors import Record
from project.messaging.models import OutboxMessage, store_headers
from project.tenancy.models import Tenant

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

    from project.messaging.errors import Record


@dataclass(frozen=True, slots=True)
class Cause:
    """Where produced records inherit environment and trace from."""

    environment: str
    trace: wire.TraceParent | None
    # The consumed record being handled and its app (none for sweeps, REST, the admin).
    inbox_id: int | None = None
    app: str = ""


_cause: contextvars.ContextVar[Cause | None] = contextvars.ContextVar("cause", default=None)


@contextlib.contextmanager
def caused_by(cause: Cause) -> Iterator[None]:
    """Records emitted inside carry ``cause``'s environment and trace id."""
    token = _cause.set(cause)
    try:
        yield
    finally:
        _cause.reset(token)


def current_cause() -> Cause:
    """The handled message's context, or the pod's own for beat tasks and the admin.

    Work with no inbound message (expiry sweeps) uses ``ATLAS_ENVIRONMENT`` and a
    fresh root trace, as upstream's background tasks do.
    """
    cause = _cause.get()
    if cause is None:
        return Cause(settings.ATLAS_ENVIRONMENT, wire.TraceParent.root())
    return cause


# The largest record that can be published, as the relay's producer measures it:
# kafka-python refuses a record whose batch (one record, its key, value, headers and
# the batch overhead) is over ``max_request_size``, 1 MiB by default and in our
# producer; Apache Kafka's default ``message.max.bytes`` (1 MiB + 12) is above that,
# so a record within this bound also passes the broker. A larger one would be parked
# by the relay, never published: ``emit`` refuses it, so the caller's transaction
# rolls back and nothing is stored for it (docs/compatibility.md, "Bounds").
MAX_RECORD_BYTES: int = KafkaProducer.DEFAULT_CONFIG["max_request_size"]


class RecordTooLarge(ValueError):
    """A record over ``MAX_RECORD_BYTES``; a ``ValueError``, so a handler raising it
    is a dead letter at once (no retry can make it smaller)."""


def record_size(key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> int:
    """The size kafka-python checks against ``max_request_size``."""
    return DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers)


def emit(*, tenant: Tenant, topic: str, key: bytes, value: dict) -> OutboxMessage:
    """Buffer one record for ``topic`` (a token such as ``EVENT_TOPIC_INVITE_STATUS``).

    Raises ``RecordTooLarge`` for a record the producer could not publish."""
    connection = _in_transaction("bus.emit")
    row = _row(tenant, topic, key, value)
    statements.insert(_INSERTED, [row])
    _wake_on_commit(connection)
    return row


# At most this many rows per INSERT of ``emit_many``: 10 parameters a row stays far
# below both databases' limits, and the statement cache (one text per row count)
# holds at most this many texts.
ROWS_PER_INSERT = 200


def emit_many(records: Iterable[tuple[Tenant, Record]]) -> list[OutboxMessage]:
    """``emit`` for many records, in one INSERT per ``ROWS_PER_INSERT`` rows.

    Each row is the one ``emit`` would have written for its (tenant, record):
    headers, environment and trace from the cause at the call (without one, each
    record its own fresh root trace, as separate ``emit`` calls give), and ids in
    the order given, which is the order the relay publishes them in. Every record
    is checked before anything is written: one ``RecordTooLarge`` and none is.
    """
    connection = _in_transaction("bus.emit_many")
    rows = [_row(tenant, record.topic, record.key, record.value) for tenant, record in records]
    for start in range(0, len(rows), ROWS_PER_INSERT):
        statements.insert(_INSERTED, rows[start : start + ROWS_PER_INSERT])
    if rows:
        _wake_on_commit(connection)
    return rows


def _in_transaction(caller: str) -> BaseDatabaseWrapper:
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError(f"{caller} must run inside transaction.atomic()")
    return connection


def _row(tenant: Tenant, topic: str, key: bytes, value: dict) -> OutboxMessage:
    """The outbox row of one record, checked and not yet stored."""
    if not key:
        raise ValueError("a record key must not be empty")
    cause = current_cause()
    headers = wire.outbound_headers(
        tenant.key.kafka_headers(), environment=cause.environment, trace=cause.trace
    )
    encoded = wire.dumps(value)
    size = record_size(key, encoded, headers)
    if size > MAX_RECORD_BYTES:
        raise RecordTooLarge(
            f"a {value.get('type', '')} record of {size} bytes is over the "
            f"{MAX_RECORD_BYTES}-byte limit of the producer"
        )
    topic_name = wire.topic_name(topic)
    row = OutboxMessage(
        topic=topic_name,
        key=key,
        value=encoded,
        headers=store_headers(headers),
        message_type=str(value.get("type", ""))[:64],
        tenant=tenant,
        created_at=timezone.now(),
        app=cause.app,
        cause_id=cause.inbox_id,
    )
    if settings.ATLAS_SHADOW:  # held for comparison, or already upstream's (docs/shadow.md)
        from project.shadow import modes

        row.shadow = modes.outgoing(cause.app, topic_name, cause.inbox_id)
    return row


def _wake_on_commit(connection: BaseDatabaseWrapper) -> None:
    """Wake the relay once per transaction, when it commits."""
    if not any(func is wake_relay for _, func, _ in connection.run_on_commit):
        transaction.on_commit(wake_relay)


# bus.emit writes these; the others take their database defaults.
_INSERTED = (
    "topic",
    "key",
    "value",
    "headers",
    "message_type",
    "tenant",
    "created_at",
    "app",
    "cause",
    "shadow",
)


def emit_record(tenant: Tenant, record: Record) -> OutboxMessage:
    """``emit`` of a built record (a builder's, or a refusal's event)."""
    return emit(tenant=tenant, topic=record.topic, key=record.key, value=record.value)


def wake_relay() -> None:
    """Tell the relay there is something to publish (best effort)."""
    coordination.wake_relay()
