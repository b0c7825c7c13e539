"""The notes wire: topic tokens, type names, consumed schemas, produced records.

This is the only module that knows the notes JSON. Consumed
messages are decoded with Go's ``encoding/json`` rules by the ``GoSchema`` fields;
produced records are dicts built in upstream struct field order, which
``bus.emit`` serialises with ``wire.dumps``.
"""

from __future__ import annotations

import datetime as dt
import uuid

from project.contracts import character_status
from project.messaging import wire
from project.messaging.produced import KEY_TEXT, KEY_U32, Produced
from project.messaging.schemas import I32, U8, U32, UUID, GoSchema, List, Object, Str, Time

NIL_UUID = uuid.UUID(int=0)

# --- topic tokens (resolved to topic names by wire.topic_name) -----------------

COMMAND_TOPIC_NOTE = "COMMAND_TOPIC_NOTE"
EVENT_TOPIC_NOTE_STATUS = "EVENT_TOPIC_NOTE_STATUS"
COMMAND_TOPIC_SAGA = "COMMAND_TOPIC_SAGA"
EVENT_TOPIC_CHARACTER_STATUS = character_status.EVENT_TOPIC_CHARACTER_STATUS

# --- type names -----------------------------------------------------------------

COMMAND_CREATE = "CREATE"
COMMAND_DISCARD = "DISCARD"

EVENT_CREATED = "CREATED"
EVENT_UPDATED = "UPDATED"
EVENT_DELETED = "DELETED"
EVENT_CREATE_FAILED = "CREATE_FAILED"

CHARACTER_DELETED = character_status.DELETED

# --- consumed: COMMAND_TOPIC_NOTE ----------------------------------------


class CreateBody(GoSchema):
    senderId = U32()
    message = Str()
    flag = U8()


class DiscardBody(GoSchema):
    # absent, null and [] all mean "nothing to discard"
    noteIds = List(U32())


class _NoteCommand(GoSchema):
    """The envelope shared by CREATE and DISCARD; each adds its own ``body``.

    Upstream decodes every message once per handler with that handler's body
    shape, so a bad field of the other type's body does not matter.
    """

    transactionId = UUID()
    worldId = U8()
    channelId = U8()
    characterId = U32()
    type = Str()


class CreateCommandSchema(_NoteCommand):
    body = Object(CreateBody)


class DiscardCommandSchema(_NoteCommand):
    body = Object(DiscardBody)


# --- consumed: EVENT_TOPIC_CHARACTER_STATUS : only DELETED -----------------

CharacterDeletedEventSchema = character_status.DeletedEvent


# --- produced: EVENT_TOPIC_NOTE_STATUS -----------------------------------


def status_key(character_id: int) -> bytes:
    """Status events are keyed by the owner's character id (8 bytes)."""
    return wire.key_u32(character_id)


def _status(event_type: str, *, transaction_id: uuid.UUID, character_id: int, body: dict) -> dict:
    return {
        "transactionId": str(transaction_id),
        "characterId": character_id,
        "type": event_type,
        "body": body,
    }


def note_body(*, note_id: int, sender_id: int, message: str, flag: int, time: dt.datetime) -> dict:
    """The CREATED / UPDATED body, fields in upstream order."""
    return {
        "noteId": note_id,
        "senderId": sender_id,
        "message": message,
        "flag": flag,
        "time": wire.go_time(time),
    }


def created_event(
    *,
    transaction_id: uuid.UUID,
    character_id: int,
    note_id: int,
    sender_id: int,
    message: str,
    flag: int,
    time: dt.datetime,
) -> dict:
    return _status(
        EVENT_CREATED,
        transaction_id=transaction_id,
        character_id=character_id,
        body=note_body(note_id=note_id, sender_id=sender_id, message=message, flag=flag, time=time),
    )


def updated_event(
    *, character_id: int, note_id: int, sender_id: int, message: str, flag: int, time: dt.datetime
) -> dict:
    """UPDATED always carries the nil transaction id (REST only)."""
    return _status(
        EVENT_UPDATED,
        transaction_id=NIL_UUID,
        character_id=character_id,
        body=note_body(note_id=note_id, sender_id=sender_id, message=message, flag=flag, time=time),
    )


def deleted_event(*, character_id: int, note_id: int) -> dict:
    """DELETED always carries the nil transaction id, a DISCARD's included."""
    return _status(
        EVENT_DELETED,
        transaction_id=NIL_UUID,
        character_id=character_id,
        body={"noteId": note_id},
    )


def create_failed_event(
    *, transaction_id: uuid.UUID, character_id: int, sender_id: int, reason: str
) -> dict:
    return _status(
        EVENT_CREATE_FAILED,
        transaction_id=transaction_id,
        character_id=character_id,
        body={"senderId": sender_id, "reason": reason},
    )


# --- produced: COMMAND_TOPIC_SAGA -----------------------------------------

SAGA_TYPE = "inventory_transaction"
SAGA_INITIATED_BY = "note-discard-fame"
SAGA_STEP_PENDING = "pending"
SAGA_ACTION_AWARD_FAME = "award_fame"


def saga_key(transaction_id: uuid.UUID) -> bytes:
    """Saga commands are keyed by the ASCII text of their transaction id."""
    return wire.key_text(transaction_id)


def fame_saga(
    *,
    transaction_id: uuid.UUID,
    sender_id: int,
    note_id: int,
    world_id: int,
    channel_id: int,
    now: dt.datetime,
) -> dict:
    """The one-step saga awarding +1 fame to a discarded note's sender.

    ``timeout`` is 0 upstream and omitted (omitempty); the payload has no
    ``actorId`` / ``actorType`` for the same reason.
    """
    stamp = wire.go_time(now)
    return {
        "transactionId": str(transaction_id),
        "sagaType": SAGA_TYPE,
        "initiatedBy": SAGA_INITIATED_BY,
        "steps": [
            {
                "stepId": f"award-fame-{sender_id}-{note_id}",
                "status": SAGA_STEP_PENDING,
                "action": SAGA_ACTION_AWARD_FAME,
                "payload": {
                    "characterId": sender_id,
                    "worldId": world_id,
                    "channelId": channel_id,
                    "amount": 1,
                },
                "createdAt": stamp,
                "updatedAt": stamp,
            }
        ],
    }


# --- what this app publishes, for the AsyncAPI document (docs/asyncapi.yaml) ----------


class NoteStatusBody(GoSchema):
    noteId = U32()
    senderId = U32()
    message = Str()
    flag = U8()
    time = Time()


class NoteIdBody(GoSchema):
    noteId = U32()


class CreateFailedBody(GoSchema):
    senderId = U32()
    reason = Str()


class _StatusEvent(GoSchema):
    transactionId = UUID()
    characterId = U32()
    type = Str()


class NoteStatusEvent(_StatusEvent):
    """CREATED and UPDATED (UPDATED with the nil transaction id)."""

    body = Object(NoteStatusBody)


class NoteDeletedEvent(_StatusEvent):
    """DELETED, with the nil transaction id."""

    body = Object(NoteIdBody)


class NoteCreateFailedEvent(_StatusEvent):
    body = Object(CreateFailedBody)


class FamePayload(GoSchema):
    characterId = U32()
    worldId = U8()
    channelId = U8()
    amount = I32()


class SagaStep(GoSchema):
    stepId = Str()
    status = Str()
    action = Str()
    payload = Object(FamePayload)
    createdAt = Time()
    updatedAt = Time()


class FameSaga(GoSchema):
    """The one-step saga awarding +1 fame to a discarded note's sender; no ``type``."""

    transactionId = UUID()
    sagaType = Str()
    initiatedBy = Str()
    steps = List(Object(SagaStep))


PRODUCED_MESSAGES = [
    Produced(
        EVENT_TOPIC_NOTE_STATUS,
        f"{KEY_U32}; the owner's character id",
        {
            EVENT_CREATED: NoteStatusEvent,
            EVENT_UPDATED: NoteStatusEvent,
            EVENT_DELETED: NoteDeletedEvent,
            EVENT_CREATE_FAILED: NoteCreateFailedEvent,
        },
    ),
    Produced(COMMAND_TOPIC_SAGA, f"{KEY_TEXT}; the transaction id", {SAGA_TYPE: FameSaga}),
]
