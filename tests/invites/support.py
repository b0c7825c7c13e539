"""Helpers for the invites tests: tenants, commands with defaults, emitted records."""

from __future__ import annotations

import json
import uuid

from invites import messages, services
from invites.models import Invite
from project.messaging import wire
from project.messaging.models import OutboxMessage
from project.tenancy.models import Tenant

STATUS_TOPIC = wire.topic_name(messages.EVENT_TOPIC_INVITE_STATUS)


def new_tenant(
    *, tenant_uuid: uuid.UUID | None = None, region: str = "GMS", major: int = 83, minor: int = 1
) -> Tenant:
    return Tenant.objects.create(
        uuid=tenant_uuid or uuid.uuid4(), region=region, major_version=major, minor_version=minor
    )


def create(
    tenant: Tenant,
    *,
    transaction_id: uuid.UUID | None = None,
    world_id: int = 0,
    invite_type: str = "PARTY",
    originator_id: int = 1001,
    target_id: int = 2001,
    reference_id: int = 5001,
) -> Invite | None:
    return services.invite_create(
        tenant=tenant,
        transaction_id=transaction_id or uuid.uuid4(),
        world_id=world_id,
        invite_type=invite_type,
        originator_id=originator_id,
        target_id=target_id,
        reference_id=reference_id,
    )


def events(tenant: Tenant | None = None) -> list[OutboxMessage]:
    """Records emitted on the invite status topic, in emission order."""
    rows = OutboxMessage.objects.filter(topic=STATUS_TOPIC).order_by("id")
    if tenant is not None:
        rows = rows.filter(tenant=tenant)
    return list(rows)


def value(row: OutboxMessage) -> dict:
    return json.loads(bytes(row.value))


def headers(row: OutboxMessage) -> dict[str, bytes]:
    """Headers by name, without the trace (its value is random)."""
    return {name: raw for name, raw in row.header_list if name != wire.TRACEPARENT}


def tenant_headers(tenant: Tenant) -> dict[str, bytes]:
    return dict(tenant.key.kafka_headers())
