"""The invites tests' vocabulary: commands with defaults and the status topic's records."""

from __future__ import annotations

import uuid

from invites import messages, services
from invites.models import Invite
from project.messaging import wire
from project.tenancy.models import Tenant
from tests.support import Emitted, emitted

STATUS_TOPIC = wire.topic_name(messages.EVENT_TOPIC_INVITE_STATUS)


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


def events(tenant: Tenant | None = None) -> list[Emitted]:
    """Records emitted on the invite status topic, in emission order."""
    return emitted(messages.EVENT_TOPIC_INVITE_STATUS, tenant)
