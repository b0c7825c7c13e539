"""Helpers for the parties tests: tenants, cached characters, emitted records."""

from __future__ import annotations

import json
import uuid

from parties import messages
from parties.lookups import CharacterFacts
from parties.models import Character
from project.messaging import wire
from project.messaging.errors import DomainError
from project.messaging.models import OutboxMessage
from project.tenancy.models import Tenant

STATUS_TOPIC = wire.topic_name(messages.EVENT_TOPIC_PARTY_STATUS)
MEMBER_TOPIC = wire.topic_name(messages.EVENT_TOPIC_PARTY_MEMBER_STATUS)
INVITE_TOPIC = wire.topic_name(messages.COMMAND_TOPIC_INVITE)
NIL = "00000000-0000-0000-0000-000000000000"


def new_tenant(*, region: str = "GMS", major: int = 83, minor: int = 1) -> Tenant:
    return Tenant.objects.create(
        uuid=uuid.uuid4(), region=region, major_version=major, minor_version=minor
    )


def facts(
    character_id: int,
    *,
    world_id: int = 1,
    name: str | None = None,
    level: int = 30,
    job_id: int = 110,
    gm: int = 0,
    channel_id: int = 0,
    map_id: int = 0,
) -> CharacterFacts:
    """What the character service would say (a warrior by default: may create)."""
    return CharacterFacts(
        character_id=character_id,
        world_id=world_id,
        name=name if name is not None else f"c{character_id}",
        level=level,
        job_id=job_id,
        gm=gm,
        channel_id=channel_id,
        map_id=map_id,
    )


def cache(tenant: Tenant, character_id: int, **fields: object) -> Character:
    """Put a character in the cache, as a first lookup would."""
    known = facts(character_id, **fields)
    return Character.objects.create(
        tenant=tenant,
        character_id=character_id,
        name=known.name,
        level=known.level,
        job_id=known.job_id,
        gm=known.gm,
        world_id=known.world_id,
        channel_id=known.channel_id,
        map_id=known.map_id,
    )


def records(topic: str, tenant: Tenant | None = None) -> list[OutboxMessage]:
    rows = OutboxMessage.objects.filter(topic=topic).order_by("id")
    if tenant is not None:
        rows = rows.filter(tenant=tenant)
    return list(rows)


def values(topic: str, tenant: Tenant | None = None) -> list[dict]:
    """Emitted values of a topic, in emission order."""
    return [json.loads(bytes(row.value)) for row in records(topic, tenant)]


def statuses(tenant: Tenant) -> list[dict]:
    return values(STATUS_TOPIC, tenant)


def member_statuses(tenant: Tenant) -> list[dict]:
    return values(MEMBER_TOPIC, tenant)


def all_records(tenant: Tenant) -> list[tuple[str, bytes, dict]]:
    """Every record the tenant's operations emitted: (topic, key, value), in order."""
    rows = OutboxMessage.objects.filter(tenant=tenant).order_by("id")
    return [(row.topic, bytes(row.key), json.loads(bytes(row.value))) for row in rows]


def error(error_type: str, *, actor: int, world: int, party: int, name: str = "") -> dict:
    """The ERROR status event the spec names (§6.1.1)."""
    return {
        "actorId": actor,
        "worldId": world,
        "partyId": party,
        "type": "ERROR",
        "body": {"type": error_type, "characterName": name},
        "transactionId": NIL,
    }


def status(
    type_: str, *, actor: int, world: int, party: int, body: dict | None = None, tx: str = NIL
) -> dict:
    return {
        "actorId": actor,
        "worldId": world,
        "partyId": party,
        "type": type_,
        "body": body or {},
        "transactionId": tx,
    }


def as_inbox(service, **kwargs):
    """Call a service as the inbox does: a refusal's events are emitted in its place."""
    from django.db import transaction

    from project.messaging import bus

    try:
        return service(**kwargs)
    except DomainError as refused:
        with transaction.atomic():
            for record in refused.events:
                bus.emit(
                    tenant=kwargs["tenant"], topic=record.topic, key=record.key, value=record.value
                )
        return None
