"""Helpers of the notes tests: tenants, notes, emitted records, in-process delivery."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from notes import messages, services
from notes.models import Note
from project.messaging import bus, registry, wire
from project.messaging.decoding import decode
from project.messaging.models import OutboxMessage
from project.tenancy.models import Tenant
from project.tenancy.rows import tenant_row

STATUS_TOPIC = wire.topic_name(messages.EVENT_TOPIC_NOTE_STATUS)
SAGA_TOPIC = wire.topic_name(messages.COMMAND_TOPIC_SAGA)
NIL = "00000000-0000-0000-0000-000000000000"


def new_tenant(
    *, tenant_uuid: uuid.UUID | None = None, region: str = "GMS", major: int = 83, minor: int = 1
) -> Tenant:
    return Tenant.objects.create(
        uuid=tenant_uuid or uuid.uuid4(), region=region, major_version=major, minor_version=minor
    )


def create(
    tenant: Tenant,
    *,
    character_id: int = 200,
    sender_id: int = 100,
    message: str = "Thanks for the party!",
    flag: int = 0,
    transaction_id: uuid.UUID = messages.NIL_UUID,
) -> Note:
    return services.note_create(
        tenant=tenant,
        character_id=character_id,
        sender_id=sender_id,
        message=message,
        flag=flag,
        transaction_id=transaction_id,
    )


def seed_raw(tenant: Tenant, **fields: object) -> Note:
    """A row written straight to the table, as upstream's tests seed (no validation)."""
    now = timezone.now()
    values = {
        "character_id": 200,
        "sender_id": 100,
        "message": "seeded",
        "flag": 0,
        "timestamp": now,
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    return Note.objects.create(tenant=tenant, tenant_uuid=tenant.uuid, **values)


@dataclass(frozen=True)
class Emitted:
    key: bytes
    raw: bytes
    headers: dict[str, bytes]

    @property
    def value(self) -> dict:
        return json.loads(self.raw)


def emitted(topic: str, tenant: Tenant | None = None) -> list[Emitted]:
    """Records buffered for ``topic`` (a resolved name), in emission order."""
    rows = OutboxMessage.objects.filter(topic=topic).order_by("id")
    if tenant is not None:
        rows = rows.filter(tenant=tenant)
    return [
        Emitted(
            bytes(row.key),
            bytes(row.value),
            {name: raw for name, raw in row.header_list if name != wire.TRACEPARENT},
        )
        for row in rows
    ]


def statuses(tenant: Tenant | None = None) -> list[dict]:
    return [record.value for record in emitted(STATUS_TOPIC, tenant)]


def sagas(tenant: Tenant | None = None) -> list[Emitted]:
    return emitted(SAGA_TOPIC, tenant)


def tenant_headers(tenant: Tenant) -> dict[str, bytes]:
    return dict(tenant.key.kafka_headers())


def deliver(token: str, value: bytes | dict | None, headers: list[tuple[str, bytes]]) -> str:
    """Decode a record as the bridge and worker do and run its handler in-process.

    Returns the dead-letter reason, ``"skipped"`` for an event type notes does not
    act on, or ``""`` when the handler ran.
    """
    subscription = registry.get("notes").subscription_for_topic(wire.topic_name(token))
    assert subscription is not None, token
    raw = wire.dumps(value) if isinstance(value, dict) else value
    decoded = decode(subscription, headers, raw)
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
    with transaction.atomic(), bus.caused_by(bus.Cause(message.environment, message.trace)):
        decoded.handler.func(message)
    return ""
