"""Records handled in-process, as the bridge and the workers handle them from Kafka.

``Feed`` stores a record the way the bridge does and then runs the lookups worker's
prepare step and the worker's handling on its inbox row; ``handle_directly`` skips
the inbox and calls the decoded record's handler. The e2e tests do the same through
the real broker and processes.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from project.messaging import bridge, bus, inbox, registry, wire
from project.messaging.decoding import decode
from project.messaging.models import InboxMessage
from project.tenancy import TenantKey
from project.tenancy.rows import tenant_row

# Far from any offset a broker of this session hands out, so rows stored here (inside
# the test's transaction) never meet an e2e stack's rows on the inbox's unique key.
FIRST_OFFSET = 10_000_000


@dataclass(frozen=True)
class Record:
    """A consumed record as the bridge sees it: input data, the shape kafka-python gives."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    timestamp: int | None = None  # the Kafka record timestamp (ms)


def _raw(value: dict | bytes | None) -> bytes | None:
    return wire.dumps(value) if isinstance(value, dict) else value


def handle(row: InboxMessage, *, attempts: int = 10) -> InboxMessage:
    """Run the prepare step (outside any transaction, as the lookups worker does) and
    the handling (as the worker does) until the inbox is done with ``row``; fail if it
    is still pending after ``attempts`` rounds."""
    for _ in range(attempts):
        row.refresh_from_db()
        if row.state != InboxMessage.State.PENDING:
            return row
        inbox.prepare(row.id)
        inbox.process(row.id)
    row.refresh_from_db()
    if row.state == InboxMessage.State.PENDING:
        raise AssertionError(f"inbox row {row.id} still pending: {row.error}")
    return row


def drain(inbox_id: int, *, attempts: int = 20) -> None:
    """Run the task of the row's key and its retries (no back-off in these tests) until
    the key is drained; fail if it is not after ``attempts`` runs."""
    for _ in range(attempts):
        if inbox.process(inbox_id) is None:
            return
    raise AssertionError(f"row {inbox_id} not finished")


class Feed:
    """Records for one app, stored as the bridge does (consecutive offsets per topic,
    one partition) and handled as the workers do.

    Called inside the test's transaction: the rows stay invisible to an e2e stack
    that may share the database.
    """

    def __init__(self, app: str, tenant: TenantKey | None = None, *, attempts: int = 10) -> None:
        self.app = app
        self.tenant = tenant
        self.attempts = attempts
        self.offsets: dict[str, int] = {}

    def store(
        self,
        token: str,
        value: dict | bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
        *,
        key: int | bytes | None = b"\0" * 8,
    ) -> InboxMessage | None:
        """The record's inbox row (``None`` for an event type the app skips); an int
        key is an id, keyed as upstream keys ids."""
        topic = wire.topic_name(token)
        offset = self.offsets.get(topic, FIRST_OFFSET)
        self.offsets[topic] = offset + 1
        if headers is None:
            headers = self.tenant.kafka_headers()
        if isinstance(key, int):
            key = wire.key_u32(key)
        bridge.store(registry.get(self.app), [Record(topic, 0, offset, key, _raw(value), headers)])
        return InboxMessage.objects.filter(
            app=self.app, topic=topic, partition=0, offset=offset
        ).first()

    def __call__(
        self,
        token: str,
        value: dict | bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
        *,
        key: int | bytes | None = b"\0" * 8,
    ) -> InboxMessage | None:
        """Store the record and handle its row until the inbox is done with it."""
        row = self.store(token, value, headers, key=key)
        return None if row is None else handle(row, attempts=self.attempts)


def handle_directly(app: str, token: str, value: dict | bytes | None, headers) -> str:
    """Decode a record as the bridge does and run its handler (its prepare step first)
    in one transaction, as the worker does, without an inbox row.

    Returns the decoding error (the dead letter's reason), ``"skipped"`` for an event
    type the app does not act on, or ``""`` when the handler ran.
    """
    subscription = registry.get(app).subscription_for_topic(wire.topic_name(token))
    assert subscription is not None, token
    decoded = decode(subscription, headers, _raw(value))
    if decoded.error:
        return decoded.error
    if decoded.handler is None:
        return "skipped"
    message = registry.Message(
        tenant=tenant_row(decoded.tenant),
        data=decoded.data,
        key=None,
        inbox_id=0,
        environment=wire.environment_from(headers),
        trace=wire.TraceParent.root(),
    )
    with bus.caused_by(bus.Cause(message.environment, message.trace)):
        if decoded.handler.prepare is not None:
            prepared = decoded.handler.prepare(message)
            message = registry.Message(**{**_fields(message), "prepared": prepared})
        with transaction.atomic():
            decoded.handler.func(message)
    return ""


def _fields(message: registry.Message) -> dict:
    return {name: getattr(message, name) for name in message.__dataclass_fields__}
