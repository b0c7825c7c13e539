"""The records the party services emit, built by ``messages`` and buffered with ``bus``."""

from __future__ import annotations

import uuid
from typing import Any

from parties import messages
from parties.models import Character
from project.messaging import bus
from project.messaging.errors import DomainError, Record
from project.tenancy.models import Tenant

NIL_UUID = messages.NIL_UUID


def status(tenant: Tenant, event_type: str, **fields: Any) -> None:
    """Buffer a party status event (``status_record``'s fields)."""
    bus.emit_record(tenant, status_record(event_type, **fields))


def status_record(
    event_type: str,
    *,
    actor_id: int,
    world_id: int,
    party_id: int,
    body: dict | None = None,
    transaction_id: uuid.UUID = NIL_UUID,
) -> Record:
    """A party status event, keyed by its party."""
    return Record(
        topic=messages.EVENT_TOPIC_PARTY_STATUS,
        key=messages.party_key(party_id),
        value=messages.status_event(
            event_type=event_type,
            actor_id=actor_id,
            world_id=world_id,
            party_id=party_id,
            body={} if body is None else body,
            transaction_id=transaction_id,
        ),
    )


def error_record(
    error_type: str, *, actor_id: int, world_id: int, party_id: int, character_name: str = ""
) -> Record:
    """An ERROR status event: always the nil transaction id."""
    return status_record(
        messages.STATUS_ERROR,
        actor_id=actor_id,
        world_id=world_id,
        party_id=party_id,
        body=messages.error_body(error_type, character_name),
    )


def refusal(
    error_type: str, *, actor_id: int, world_id: int, party_id: int, character_name: str = ""
) -> DomainError:
    """A refused command, answered by its ERROR status event."""
    return DomainError(
        f"{error_type} to {actor_id} (party {party_id})",
        events=[
            error_record(
                error_type,
                actor_id=actor_id,
                world_id=world_id,
                party_id=party_id,
                character_name=character_name,
            )
        ],
    )


class LostRace(DomainError):
    """A compare-and-set lost to a concurrent writer: answered with the ERROR the player
    would have got had the race gone the other way."""


def lost_race(
    reason: str, error_type: str, *, actor_id: int, world_id: int, party_id: int
) -> LostRace:
    return LostRace(
        reason,
        events=[error_record(error_type, actor_id=actor_id, world_id=world_id, party_id=party_id)],
    )


def member_status(tenant: Tenant, character: Character, event_type: str, body: dict) -> None:
    """A member status event, only for a character in a party."""
    if character.party_id is None:
        return
    party_id = character.party.party_id
    bus.emit(
        tenant=tenant,
        topic=messages.EVENT_TOPIC_PARTY_MEMBER_STATUS,
        key=messages.party_key(party_id),
        value=messages.member_status_event(
            event_type=event_type,
            world_id=character.world_id,
            party_id=party_id,
            character_id=character.character_id,
            body=body,
        ),
    )


def invite(
    tenant: Tenant, *, world_id: int, originator_id: int, target_id: int, party_id: int
) -> None:
    """The invite service's CREATE command, keyed by the party."""
    bus.emit(
        tenant=tenant,
        topic=messages.COMMAND_TOPIC_INVITE,
        key=messages.invite_key(party_id),
        value=messages.invite_command(
            world_id=world_id,
            originator_id=originator_id,
            target_id=target_id,
            party_id=party_id,
        ),
    )
