"""The parties tests' vocabulary: cached characters, status and error events, delivery."""

from __future__ import annotations

from parties import messages
from parties.lookups import CharacterFacts
from parties.models import Character
from project.messaging.errors import DomainError
from project.tenancy.models import Tenant
from tests.delivery import Feed
from tests.support import NIL, values

STATUS_TOPIC = messages.EVENT_TOPIC_PARTY_STATUS
MEMBER_TOPIC = messages.EVENT_TOPIC_PARTY_MEMBER_STATUS
INVITE_TOPIC = messages.COMMAND_TOPIC_INVITE


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


def statuses(tenant: Tenant) -> list[dict]:
    return values(STATUS_TOPIC, tenant)


def member_statuses(tenant: Tenant) -> list[dict]:
    return values(MEMBER_TOPIC, tenant)


def error(error_type: str, *, actor: int, world: int, party: int, name: str = "") -> dict:
    """The ERROR status event upstream sends."""
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


deliver = Feed("parties")
"""``deliver(token, value, headers, key=…)``: store a record as the bridge does, run its
prepare step and handle it as the worker does; its inbox row (``None`` for a skipped
event type)."""
