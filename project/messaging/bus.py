"""``emit``: buffer an outbound record in the caller's transaction.

A domain service calls ``emit`` inside its ``transaction.atomic`` block. The row
commits or rolls back with the state change, so an event leaves only for state
that was committed. After commit the relay is woken through Redis; if that fails
it still finds the row on its next poll.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from project.messaging import coordination, wire
from project.messaging.models import OutboxMessage, store_headers
from project.tenancy.models import Tenant


@dataclass(frozen=True, slots=True)
class Cause:
    """Where produced records inherit environment and trace from."""

    environment: str
    trace: wire.TraceParent | None


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


def emit(*, tenant: Tenant, topic: str, key: bytes, value: dict) -> OutboxMessage:
    """Buffer one record for ``topic`` (a token such as ``EVENT_TOPIC_INVITE_STATUS``)."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("bus.emit must run inside transaction.atomic()")
    if not key:
        raise ValueError("a record key must not be empty")
    cause = current_cause()
    headers = wire.outbound_headers(
        tenant.key.kafka_headers(), environment=cause.environment, trace=cause.trace
    )
    row = OutboxMessage(
        topic=wire.topic_name(topic),
        key=key,
        value=wire.dumps(value),
        headers=store_headers(headers),
        message_type=str(value.get("type", ""))[:64],
        tenant=tenant,
        created_at=timezone.now(),
    )
    _insert(connection, row)
    if not any(func is wake_relay for _, func, _ in connection.run_on_commit):
        transaction.on_commit(wake_relay)
    return row


_INSERTED = ("topic", "key", "value", "headers", "message_type", "tenant", "created_at")


@functools.cache
def _insert_statement(vendor: str, quote: Callable[[str], str]) -> tuple[str, list]:
    """The INSERT and its fields, built once per database backend."""
    fields = [OutboxMessage._meta.get_field(name) for name in _INSERTED]
    sql = "INSERT INTO {} ({}) VALUES ({}) RETURNING {}".format(
        quote(OutboxMessage._meta.db_table),
        ", ".join(quote(field.column) for field in fields),
        ", ".join(["%s"] * len(fields)),
        quote(OutboxMessage._meta.pk.column),
    )
    return sql, fields


def _insert(connection, row: OutboxMessage) -> None:
    """One prepared INSERT: every produced record passes here, and the ORM's
    generic ``save`` machinery costs about as much as the rest of a handler."""
    sql, fields = _insert_statement(connection.vendor, connection.ops.quote_name)
    params = [field.get_db_prep_save(field.pre_save(row, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row.pk = cursor.fetchone()[0]
    row._state.adding = False
    row._state.db = connection.alias


def wake_relay() -> None:
    """Tell the relay there is something to publish (best effort)."""
    coordination.wake_relay()
