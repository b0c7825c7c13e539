"""The parties wire: topic tokens, type names, consumed schemas, produced records.

This is the only module that knows the parties JSON.
Consumed records are decoded with Go's ``encoding/json`` rules by ``GoSchema``
fields, one schema per type so only that type's body fields are validated;
produced values are dicts in upstream struct field order, serialised
Go-style by ``bus.emit``.
"""

from __future__ import annotations

import functools
import uuid

from project.contracts import character_status
from project.contracts import invites as invite_contracts
from project.messaging import wire
from project.messaging.produced import KEY_U32, Produced, with_body
from project.messaging.schemas import U8, U16, U32, UUID, Bool, GoSchema, List, Object, Str

NIL_UUID = uuid.UUID(int=0)

# --- topic tokens ---------------------------------------------------------------

COMMAND_TOPIC_PARTY = "COMMAND_TOPIC_PARTY"
EVENT_TOPIC_PARTY_STATUS = "EVENT_TOPIC_PARTY_STATUS"
EVENT_TOPIC_PARTY_MEMBER_STATUS = "EVENT_TOPIC_PARTY_MEMBER_STATUS"
EVENT_TOPIC_CHARACTER_STATUS = character_status.EVENT_TOPIC_CHARACTER_STATUS
EVENT_TOPIC_INVITE_STATUS = invite_contracts.EVENT_TOPIC_INVITE_STATUS
COMMAND_TOPIC_INVITE = invite_contracts.COMMAND_TOPIC_INVITE

# --- type names -----------------------------------------------------------------

COMMAND_CREATE = "CREATE"
COMMAND_JOIN = "JOIN"
COMMAND_LEAVE = "LEAVE"
COMMAND_CHANGE_LEADER = "CHANGE_LEADER"
COMMAND_REQUEST_INVITE = "REQUEST_INVITE"

STATUS_CREATED = "CREATED"
STATUS_JOINED = "JOINED"
STATUS_LEFT = "LEFT"
STATUS_EXPEL = "EXPEL"
STATUS_DISBAND = "DISBAND"
STATUS_CHANGE_LEADER = "CHANGE_LEADER"
STATUS_ERROR = "ERROR"

MEMBER_LOGIN = "LOGIN"
MEMBER_LOGOUT = "LOGOUT"
MEMBER_LEVEL_CHANGED = "LEVEL_CHANGED"
MEMBER_JOB_CHANGED = "JOB_CHANGED"
MEMBER_NAME_CHANGED = "NAME_CHANGED"

INVITE_TYPE_PARTY = "PARTY"
INVITE_ACCEPTED = invite_contracts.EVENT_ACCEPTED

# --- error type strings ---------------------------------------------------

ERROR_UNEXPECTED = "ERROR_UNEXPECTED"
ALREADY_HAVE_JOINED_A_PARTY_1 = "ALREADY_HAVE_JOINED_A_PARTY_1"
ALREADY_HAVE_JOINED_A_PARTY_2 = "ALREADY_HAVE_JOINED_A_PARTY_2"
A_BEGINNER_CANT_CREATE_A_PARTY = "A_BEGINNER_CANT_CREATE_A_PARTY"
AS_A_GM_YOURE_FORBIDDEN_FROM_CREATING_A_PARTY = "AS_A_GM_YOURE_FORBIDDEN_FROM_CREATING_A_PARTY"
THE_PARTY_YOURE_TRYING_TO_JOIN_IS_ALREADY_IN_FULL_CAPACITY = (
    "THE_PARTY_YOURE_TRYING_TO_JOIN_IS_ALREADY_IN_FULL_CAPACITY"
)


# --- consumed: COMMAND_TOPIC_PARTY -----------------------------------------


class _Command(GoSchema):
    """The envelope every command shares; each type adds its own ``body``."""

    actorId = U32()
    type = Str()
    transactionId = UUID()


class EmptyBody(GoSchema):
    """CREATE: any object (its fields are not read), ``null`` or absent."""


class JoinBody(GoSchema):
    partyId = U32()


class LeaveBody(GoSchema):
    partyId = U32()
    force = Bool()
    characterId = U32()


class ChangeLeaderBody(GoSchema):
    partyId = U32()
    leaderId = U32()


class RequestInviteBody(GoSchema):
    characterId = U32()


class CreateCommand(_Command):
    body = Object(EmptyBody)


class JoinCommand(_Command):
    body = Object(JoinBody)


class LeaveCommand(_Command):
    body = Object(LeaveBody)


class ChangeLeaderCommand(_Command):
    body = Object(ChangeLeaderBody)


class RequestInviteCommand(_Command):
    body = Object(RequestInviteBody)


# --- consumed: EVENT_TOPIC_CHARACTER_STATUS and EVENT_TOPIC_INVITE_STATUS

CHARACTER_EVENTS = character_status.SCHEMAS  # type name -> schema, the nine acted upon
InviteStatusEvent = invite_contracts.StatusEvent


# --- produced: EVENT_TOPIC_PARTY_STATUS ------------------------------------


def party_key(party_id: int) -> bytes:
    """Status, member status and invite records are all keyed by the party id."""
    return wire.key_u32(party_id)


def status_event(
    *,
    event_type: str,
    actor_id: int,
    world_id: int,
    party_id: int,
    body: dict,
    transaction_id: uuid.UUID = NIL_UUID,
) -> dict:
    """A party status event, fields in upstream order; ``transactionId`` always present."""
    return {
        "actorId": actor_id,
        "worldId": world_id,
        "partyId": party_id,
        "type": event_type,
        "body": body,
        "transactionId": str(transaction_id),
    }


def expel_body(character_id: int) -> dict:
    return {"characterId": character_id}


def disband_body(members: list[int]) -> dict:
    return {"members": list(members)}


def change_leader_body(character_id: int) -> dict:
    """``disconnected`` is always false: a leader logging out keeps the leadership."""
    return {"characterId": character_id, "disconnected": False}


def error_body(error_type: str, character_name: str = "") -> dict:
    return {"type": error_type, "characterName": character_name}


# --- produced: EVENT_TOPIC_PARTY_MEMBER_STATUS -----------------------------


def member_status_event(
    *, event_type: str, world_id: int, party_id: int, character_id: int, body: dict
) -> dict:
    """A member status event; no ``transactionId`` field."""
    return {
        "worldId": world_id,
        "partyId": party_id,
        "characterId": character_id,
        "type": event_type,
        "body": body,
    }


def level_changed_body(old_level: int, new_level: int, name: str) -> dict:
    return {"oldLevel": old_level, "newLevel": new_level, "name": name}


def job_changed_body(old_job_id: int, new_job_id: int, name: str) -> dict:
    return {"oldJobId": old_job_id, "newJobId": new_job_id, "name": name}


def name_changed_body(old_name: str, new_name: str) -> dict:
    return {"oldName": old_name, "newName": new_name}


# --- produced: COMMAND_TOPIC_INVITE ---------------------------------------


def invite_command(*, world_id: int, originator_id: int, target_id: int, party_id: int) -> dict:
    """The invite CREATE parties sends: no ``transactionId`` (the shared contract)."""
    return invite_contracts.create_command(
        world_id=world_id,
        invite_type=INVITE_TYPE_PARTY,
        originator_id=originator_id,
        target_id=target_id,
        reference_id=party_id,
    )


def invite_key(party_id: int) -> bytes:
    return invite_contracts.command_key(party_id)


# --- produced by REST: COMMAND_TOPIC_PARTY --------------------------------


def command_key(character_id: int) -> bytes:
    """REST-produced commands are keyed by a character id."""
    return wire.key_u32(character_id)


def create_command(*, actor_id: int) -> dict:
    return {"actorId": actor_id, "type": COMMAND_CREATE, "body": {}}


def join_command(*, actor_id: int, party_id: int) -> dict:
    return {"actorId": actor_id, "type": COMMAND_JOIN, "body": {"partyId": party_id}}


def leave_command(*, actor_id: int, party_id: int) -> dict:
    """The REST DELETE of a member: a plain leave, no ``characterId`` field."""
    return {
        "actorId": actor_id,
        "type": COMMAND_LEAVE,
        "body": {"partyId": party_id, "force": False},
    }


def change_leader_command(*, actor_id: int, party_id: int, leader_id: int) -> dict:
    return {
        "actorId": actor_id,
        "type": COMMAND_CHANGE_LEADER,
        "body": {"partyId": party_id, "leaderId": leader_id},
    }


# --- what this app publishes, for the AsyncAPI document (docs/asyncapi.yaml) ----------


class NoBody(GoSchema):
    """An empty object."""


class ExpelBody(GoSchema):
    characterId = U32()


class DisbandBody(GoSchema):
    members = List(U32())


class ChangeLeaderStatusBody(GoSchema):
    characterId = U32()
    disconnected = Bool()


class ErrorBody(GoSchema):
    type = Str()
    characterName = Str()


class _Status(GoSchema):
    actorId = U32()
    worldId = U8()
    partyId = U32()
    type = Str()


# A status event with a body; ``transactionId`` last, always present.
_status = functools.partial(with_body, _Status, suffix="Status", transactionId=UUID())


class _MemberStatus(GoSchema):
    worldId = U8()
    partyId = U32()
    characterId = U32()
    type = Str()


class LevelChangedStatusBody(GoSchema):
    oldLevel = U8()
    newLevel = U8()
    name = Str()


class JobChangedStatusBody(GoSchema):
    oldJobId = U16()
    newJobId = U16()
    name = Str()


class NameChangedStatusBody(GoSchema):
    oldName = Str()
    newName = Str()


_member_status = functools.partial(with_body, _MemberStatus, suffix="MemberStatus")


class InviteCreateCommand(GoSchema):
    """The invite service's CREATE, without ``transactionId`` (as upstream's parties)."""

    worldId = U8()
    inviteType = Str()
    type = Str()
    body = Object(invite_contracts.CreateBody)


class _RestCommand(GoSchema):
    actorId = U32()
    type = Str()


class RestLeaveBody(GoSchema):
    partyId = U32()
    force = Bool()


_rest_command = functools.partial(with_body, _RestCommand, suffix="Command")


PRODUCED_MESSAGES = [
    Produced(
        EVENT_TOPIC_PARTY_STATUS,
        f"{KEY_U32}; the party id",
        {
            STATUS_CREATED: _status(NoBody),
            STATUS_JOINED: _status(NoBody),
            STATUS_LEFT: _status(NoBody),
            STATUS_EXPEL: _status(ExpelBody),
            STATUS_DISBAND: _status(DisbandBody),
            STATUS_CHANGE_LEADER: _status(ChangeLeaderStatusBody),
            STATUS_ERROR: _status(ErrorBody),
        },
    ),
    Produced(
        EVENT_TOPIC_PARTY_MEMBER_STATUS,
        f"{KEY_U32}; the party id",
        {
            MEMBER_LOGIN: _member_status(NoBody),
            MEMBER_LOGOUT: _member_status(NoBody),
            MEMBER_LEVEL_CHANGED: _member_status(LevelChangedStatusBody),
            MEMBER_JOB_CHANGED: _member_status(JobChangedStatusBody),
            MEMBER_NAME_CHANGED: _member_status(NameChangedStatusBody),
        },
    ),
    Produced(
        COMMAND_TOPIC_INVITE,
        f"{KEY_U32}; the party id",
        {invite_contracts.COMMAND_CREATE: InviteCreateCommand},
    ),
    # The REST API's commands (views.py), answered 202.
    Produced(
        COMMAND_TOPIC_PARTY,
        f"{KEY_U32}; the character id",
        {
            COMMAND_CREATE: _rest_command(NoBody),
            COMMAND_JOIN: _rest_command(JoinBody),
            COMMAND_LEAVE: _rest_command(RestLeaveBody),
            COMMAND_CHANGE_LEADER: _rest_command(ChangeLeaderBody),
        },
    ),
]
