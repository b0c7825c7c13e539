"""The notes tests' vocabulary: notes made or seeded, the status and saga records."""

from __future__ import annotations

import uuid

from django.utils import timezone

from notes import messages, services
from notes.models import Note
from project.tenancy.models import Tenant
from tests.delivery import handle_directly
from tests.support import Emitted, emitted, values

STATUS_TOPIC = messages.EVENT_TOPIC_NOTE_STATUS
SAGA_TOPIC = messages.COMMAND_TOPIC_SAGA


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
    row = {
        "character_id": 200,
        "sender_id": 100,
        "message": "seeded",
        "flag": 0,
        "timestamp": now,
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    return Note.objects.create(tenant=tenant, tenant_uuid=tenant.uuid, **row)


def statuses(tenant: Tenant | None = None) -> list[dict]:
    return values(STATUS_TOPIC, tenant)


def sagas(tenant: Tenant | None = None) -> list[Emitted]:
    return emitted(SAGA_TOPIC, tenant)


def deliver(token: str, value: bytes | dict | None, headers: list[tuple[str, bytes]]) -> str:
    """Decode a record as the bridge and worker do and run its handler in-process:
    the dead-letter reason, ``"skipped"``, or ``""`` when the handler ran."""
    return handle_directly("notes", token, value, headers)
