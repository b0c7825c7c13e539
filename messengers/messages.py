"""The messengers wire: topic tokens, type names, consumed schemas, produced records.

The only module that knows the messengers JSON. Consumed
messages decode with Go's ``encoding/json`` rules (``GoSchema``); produced records
are dicts in upstream struct field order, serialised by ``bus.emit``.
"""

from __future__ import annotations

import functools
import uuid

from project.contracts import character_status
from project.contracts import invites as invite_contracts
from project.messaging import wire
from project.messaging.produced import KEY_U32, Produced, with_body
from project.messaging.schemas import U8, U32, UUID, GoSchema, Object, Str

# --- topic tokens ------------------------------------------------------------------

COMMAND_TOPIC_MESSENGER = "COMMAND_TOPIC_MESSENGER"
EVENT_TOPIC_MESSENGER_STATUS = "EVENT_TOPIC_MESSENGER_STATUS"
EVENT_TOPIC_MESSENGER_MEMBER_STATUS = "EVENT_TOPIC_MESSENGER_MEMBER_STATUS"
EVENT_TOPIC_CHARACTER_STATUS = character_status.EVENT_TOPIC_CHARACTER_STATUS
EVENT_TOPIC_INVITE_STATUS = invite_contracts.EVENT_TOPIC_INVITE_STATUS
COMMAND_TOPIC_INVITE = invite_contracts.COMMAND_TOPIC_INVITE

# --- type names ----------------------------------------------------------------------

COMMAND_CREATE = "CREATE"
COMMAND_JOIN = "JOIN"
COMMAND_LEAVE = "LEAVE"
COMMAND_REQUEST_INVITE = "REQUEST_INVITE"

STATUS_CREATED = "CREATED"
STATUS_JOINED = "JOINED"
STATUS_LEFT = "LEFT"
STATUS_ERROR = "ERROR"

MEMBER_LOGIN = "LOGIN"
MEMBER_LOGOUT = "LOGOUT"

CHARACTER_LOGIN = character_status.LOGIN
CHARACTER_LOGOUT = character_status.LOGOUT
CHARACTER_CHANNEL_CHANGED = character_status.CHANNEL_CHANGED
CHARACTER_DELETED = character_status.DELETED

INVITE_ACCEPTED = invite_contracts.EVENT_ACCEPTED
INVITE_TYPE_MESSENGER = "MESSENGER"

# --- error codes --------------------------

ERROR_UNEXPECTED = "ERROR_UNEXPECTED"
ERROR_ALREADY_JOINED_1 = "ALREADY_HAVE_JOINED_A_MESSENGER_1"
ERROR_ALREADY_JOINED_2 = "ALREADY_HAVE_JOINED_A_MESSENGER_2"
ERROR_FULL = "THE_MESSENGER_YOURE_TRYING_TO_JOIN_IS_ALREADY_IN_FULL_CAPACITY"


# --- consumed: COMMAND_TOPIC_MESSENGER -----------------------------------------


class _Command(GoSchema):
    """The envelope; each command adds its own ``body`` (each upstream handler decodes
    the message into its own shape, so a bad field of another body does not matter)."""

    transactionId = UUID()
    actorId = U32()
    type = Str()


class EmptyBody(GoSchema):
    """CREATE's body has no fields: anything in it is ignored."""


class MessengerBody(GoSchema):
    messengerId = U32()


class RequestInviteBody(GoSchema):
    characterId = U32()


class CreateCommand(_Command):
    body = Object(EmptyBody)


class JoinCommand(_Command):
    body = Object(MessengerBody)


class LeaveCommand(_Command):
    body = Object(MessengerBody)


class RequestInviteCommand(_Command):
    body = Object(RequestInviteBody)


# --- consumed: EVENT_TOPIC_CHARACTER_STATUS and EVENT_TOPIC_INVITE_STATUS ---

CharacterLoginEvent = character_status.LoginEvent
CharacterLogoutEvent = character_status.LogoutEvent
CharacterChannelChangedEvent = character_status.ChannelChangedEvent
CharacterDeletedEvent = character_status.DeletedEvent
InviteStatusEvent = invite_contracts.StatusEvent


# --- produced: EVENT_TOPIC_MESSENGER_STATUS -------------------------------------


def status_key(messenger_id: int) -> bytes:
    """Every status event, errors included, is keyed by its ``messengerId`` (0 if none)."""
    return wire.key_u32(messenger_id)


def status_event(
    *,
    event_type: str,
    transaction_id: uuid.UUID,
    actor_id: int,
    world_id: int,
    messenger_id: int,
    body: dict,
) -> dict:
    """A status event, fields in upstream struct order."""
    return {
        "transactionId": str(transaction_id),
        "actorId": actor_id,
        "worldId": world_id,
        "messengerId": messenger_id,
        "type": event_type,
        "body": body,
    }


def created_body() -> dict:
    return {}


def slot_body(slot: int) -> dict:
    """JOINED and LEFT: the seat taken or vacated."""
    return {"slot": slot}


def error_body(code: str, character_name: str = "") -> dict:
    return {"type": code, "characterName": character_name}


# --- produced: EVENT_TOPIC_MESSENGER_MEMBER_STATUS -------------------------------


def member_status_event(
    *,
    event_type: str,
    transaction_id: uuid.UUID,
    world_id: int,
    messenger_id: int,
    character_id: int,
) -> dict:
    """A member LOGIN / LOGOUT event, fields in upstream struct order; keyed by messenger."""
    return {
        "transactionId": str(transaction_id),
        "worldId": world_id,
        "messengerId": messenger_id,
        "characterId": character_id,
        "type": event_type,
        "body": {},
    }


# --- produced: COMMAND_TOPIC_INVITE ----------------------------------------------


def invite_key(messenger_id: int) -> bytes:
    return invite_contracts.command_key(messenger_id)


def invite_command(
    *,
    transaction_id: uuid.UUID,
    world_id: int,
    originator_id: int,
    target_id: int,
    messenger_id: int,
) -> dict:
    """The invite CREATE command (type MESSENGER, reference = the inviter's messenger)."""
    return invite_contracts.create_command(
        transaction_id=transaction_id,
        world_id=world_id,
        invite_type=INVITE_TYPE_MESSENGER,
        originator_id=originator_id,
        target_id=target_id,
        reference_id=messenger_id,
    )


# --- produced by REST: COMMAND_TOPIC_MESSENGER -----------------------------------


def command_key(character_id: int) -> bytes:
    """REST JOIN / LEAVE commands are keyed by the member id."""
    return wire.key_u32(character_id)


def member_command(
    *, command_type: str, transaction_id: uuid.UUID, actor_id: int, messenger_id: int
) -> dict:
    """JOIN or LEAVE as the REST handlers send them."""
    return {
        "transactionId": str(transaction_id),
        "actorId": actor_id,
        "type": command_type,
        "body": {"messengerId": messenger_id},
    }


# --- what this app publishes, for the AsyncAPI document (docs/asyncapi.yaml) ----------


class NoBody(GoSchema):
    """An empty object."""


class SlotBody(GoSchema):
    slot = U8()


class ErrorBody(GoSchema):
    type = Str()
    characterName = Str()


class _Status(GoSchema):
    transactionId = UUID()
    actorId = U32()
    worldId = U8()
    messengerId = U32()
    type = Str()


_status = functools.partial(with_body, _Status, suffix="Status")


class MemberStatusEvent(GoSchema):
    """LOGIN and LOGOUT of a seated member, keyed by the messenger."""

    transactionId = UUID()
    worldId = U8()
    messengerId = U32()
    characterId = U32()
    type = Str()
    body = Object(NoBody)


class InviteCreateCommand(GoSchema):
    """The invite service's CREATE, type MESSENGER, with a ``transactionId``."""

    transactionId = UUID()
    worldId = U8()
    inviteType = Str()
    type = Str()
    body = Object(invite_contracts.CreateBody)


class RestCommandBody(GoSchema):
    messengerId = U32()


class RestCommand(GoSchema):
    """JOIN and LEAVE as the REST API sends them."""

    transactionId = UUID()
    actorId = U32()
    type = Str()
    body = Object(RestCommandBody)


PRODUCED_MESSAGES = [
    Produced(
        EVENT_TOPIC_MESSENGER_STATUS,
        f"{KEY_U32}; the messenger id (0 if none)",
        {
            STATUS_CREATED: _status(NoBody),
            STATUS_JOINED: _status(SlotBody),
            STATUS_LEFT: _status(SlotBody),
            STATUS_ERROR: _status(ErrorBody),
        },
    ),
    Produced(
        EVENT_TOPIC_MESSENGER_MEMBER_STATUS,
        f"{KEY_U32}; the messenger id",
        {MEMBER_LOGIN: MemberStatusEvent, MEMBER_LOGOUT: MemberStatusEvent},
    ),
    Produced(
        COMMAND_TOPIC_INVITE,
        f"{KEY_U32}; the messenger id",
        {invite_contracts.COMMAND_CREATE: InviteCreateCommand},
    ),
    # The REST API's commands (views.py), answered 202.
    Produced(
        COMMAND_TOPIC_MESSENGER,
        f"{KEY_U32}; the character id",
        {COMMAND_JOIN: RestCommand, COMMAND_LEAVE: RestCommand},
    ),
]
