"""Helpers for the parties tests: tenants, cached characters, emitted records."""

from __future__ import annotations

import json

from parties import messages
from parties.lookups import CharacterFacts
from parties.models import Character
from project.messaging import wire
from project.messaging.errors import DomainError
from project.messaging.models import OutboxMessage
from project.tenancy.models import Tenant
from tests.support import emitted, new_tenant

__all__ = ["new_tenant"]

STATUS_TOPIC = wire.topic_name(messages.EVENT_TOPIC_PARTY_STATUS)
MEMBER_TOPIC = wire.topic_name(messages.EVENT_TOPIC_PARTY_MEMBER_STATUS)
INVITE_TOPIC = wire.topic_name(messages.COMMAND_TOPIC_INVITE)
NIL = "00000000-0000-0000-0000-000000000000"


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
    """Emitted values of a topic (a resolved name), in emission order."""
    return [record.value for record in emitted(topic, tenant)]


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


# --- records through the platform's inbox, in-process --------------------------------


class Offsets:
    """Consecutive offsets per topic, as one partition delivers them."""

    def __init__(self) -> None:
        self.next: dict[str, int] = {}

    def __call__(self, topic: str) -> int:
        self.next[topic] = self.next.get(topic, -1) + 1
        return self.next[topic]


_offsets = Offsets()


def deliver(
    token: str,
    value: dict | bytes | None,
    headers: list[tuple[str, bytes]],
    *,
    key: bytes | None = b"\0" * 8,
):
    """Store a record as the bridge does, run its prepare step and handle it as the
    worker does; return its inbox row (``None`` for a skipped event type).

    Called inside the test's transaction: the rows stay invisible to an e2e stack
    that may share the database.
    """
    from dataclasses import dataclass

    from project.messaging import bridge, inbox, registry
    from project.messaging.models import InboxMessage

    @dataclass(frozen=True)
    class Record:
        topic: str
        partition: int
        offset: int
        key: bytes | None
        value: bytes | None
        headers: list[tuple[str, bytes]]

    topic = wire.topic_name(token)
    raw = json.dumps(value).encode() if isinstance(value, dict) else value
    # Offsets far from anything a broker of this session hands out.
    offset = 10_000_000 + _offsets(topic)
    bridge.store(registry.get("parties"), [Record(topic, 0, offset, key, raw, headers)])
    row = InboxMessage.objects.filter(app="parties", topic=topic, offset=offset).first()
    if row is None:
        return None
    for _ in range(10):
        row.refresh_from_db()
        if row.state != InboxMessage.State.PENDING:
            return row
        inbox.prepare(row.id)
        inbox.process(row.id)
    raise AssertionError(f"inbox row {row.id} still pending: {row.error}")
