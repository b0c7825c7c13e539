"""The invites wire: topic tokens, type names, consumed schemas, produced events.

This is the only module that knows the invites JSON.
Consumed messages are decoded with Go's ``encoding/json`` rules by the
``GoSchema`` fields; produced events are dicts built in upstream struct field
order, which ``bus.emit`` serialises with ``wire.dumps``.
"""

from __future__ import annotations

import uuid

from project.contracts import character_status
from project.contracts import invites as contracts
from project.messaging import wire
from project.messaging.produced import KEY_U32, Produced
from project.messaging.schemas import U8, U32, UUID, GoSchema, Object, Str

# --- topic tokens (resolved to topic names by wire.topic_name) -----------------

COMMAND_TOPIC_INVITE = contracts.COMMAND_TOPIC_INVITE
EVENT_TOPIC_INVITE_STATUS = contracts.EVENT_TOPIC_INVITE_STATUS
EVENT_TOPIC_CHARACTER_STATUS = character_status.EVENT_TOPIC_CHARACTER_STATUS

INVITE_TYPE_MAX_LENGTH = 255

# --- type names -----------------------------------------------------------------

COMMAND_CREATE = contracts.COMMAND_CREATE
COMMAND_ACCEPT = "ACCEPT"
COMMAND_REJECT = "REJECT"

EVENT_CREATED = contracts.EVENT_CREATED
EVENT_ACCEPTED = contracts.EVENT_ACCEPTED
EVENT_REJECTED = contracts.EVENT_REJECTED

CHARACTER_DELETED = character_status.DELETED


# --- consumed: COMMAND_TOPIC_INVITE --------------------------------------


class AcceptBody(GoSchema):
    targetId = U32()
    referenceId = U32()


class RejectBody(GoSchema):
    targetId = U32()
    originatorId = U32()


class _InviteCommand(GoSchema):
    """The envelope shared by the three commands; each adds its own ``body``.

    Each upstream handler decodes the whole message into its own shape, so a
    wrongly-typed field that is not part of the matching body does not matter:
    the schema for ACCEPT does not know ``originatorId``.
    """

    transactionId = UUID()
    worldId = U8()
    # Stored, indexed and echoed: bounded (upstream has no limit; real types are words).
    inviteType = Str(max_length=INVITE_TYPE_MAX_LENGTH, no_nul=True)
    type = Str()


class CreateCommandSchema(_InviteCommand):
    body = Object(contracts.CreateBody)


class AcceptCommandSchema(_InviteCommand):
    body = Object(AcceptBody)


class RejectCommandSchema(_InviteCommand):
    body = Object(RejectBody)


# --- consumed: EVENT_TOPIC_CHARACTER_STATUS : only DELETED -----------------

CharacterDeletedEventSchema = character_status.DeletedEvent


# --- produced: EVENT_TOPIC_INVITE_STATUS -----------------------------------


def status_key(reference_id: int) -> bytes:
    """Status events are keyed by the reference id, not the invite id."""
    return wire.key_u32(reference_id)


def status_event(
    *,
    event_type: str,
    transaction_id: uuid.UUID,
    world_id: int,
    invite_type: str,
    reference_id: int,
    originator_id: int,
    target_id: int,
) -> dict:
    """A status event, fields in upstream struct order."""
    return {
        "transactionId": str(transaction_id),
        "worldId": world_id,
        "inviteType": invite_type,
        "referenceId": reference_id,
        "type": event_type,
        "body": {"originatorId": originator_id, "targetId": target_id},
    }


# What this app publishes, for the AsyncAPI document (docs/asyncapi.yaml).
PRODUCED_MESSAGES = [
    Produced(
        EVENT_TOPIC_INVITE_STATUS,
        f"{KEY_U32}; the reference id",
        {event: contracts.StatusEvent for event in (EVENT_CREATED, EVENT_ACCEPTED, EVENT_REJECTED)},
    )
]
