"""Inbox messages → party services; registered with the messaging registry.

Consumer group ``Party Service`` (upstream's), subscribed to the party command
topic (every type is handled; an unknown one is a dead letter), the character
status topic (nine types; the rest are for other consumers and skipped) and the
invite status topic (ACCEPTED only). Every type is bound declaratively: a
prepare step for its character lookups (``parties.lookups``) and one service,
called with the message's fields and the lookups' answers.

A command the inbox gives up on (a lasting database error, the task time limit,
a defect), and an accepted party invite whose JOIN it gives up on, is answered
with ERROR_UNEXPECTED to its actor, as upstream answers every failure of its
processor (``on_dead``, docs/design.md). Character events have no answer.
"""

from __future__ import annotations

from parties import events, lookups, messages, selectors, services
from project.contracts import character_status
from project.contracts import invites as invite_contracts
from project.directory import characters
from project.messaging import registry
from project.messaging.errors import Record

consumer = registry.consumer(
    "parties",
    group="Party Service",
    produces=[
        messages.EVENT_TOPIC_PARTY_STATUS,
        messages.EVENT_TOPIC_PARTY_MEMBER_STATUS,
        messages.COMMAND_TOPIC_INVITE,
    ],
)

COMMANDS = messages.COMMAND_TOPIC_PARTY
CHARACTERS = messages.EVENT_TOPIC_CHARACTER_STATUS


# --- answers to messages that die -------------------------------------------------------


def _world_of(message: registry.Message, character_id: int) -> int:
    """The character's world: from the lookup, else the cache, else 0."""
    return characters.world_of(
        lookups.looked_up(message).fetched.get(character_id),
        lambda: selectors.character_get(tenant=message.tenant, character_id=character_id),
    )


def _unexpected(message: registry.Message, actor_id: int, party_id: int) -> list[Record]:
    return [
        events.error_record(
            messages.ERROR_UNEXPECTED,
            actor_id=actor_id,
            world_id=_world_of(message, actor_id),
            party_id=party_id,
        )
    ]


def command_died(message: registry.Message, reason: str) -> list[Record]:
    """ERROR_UNEXPECTED to the command's actor, for the party it names (0 if none)."""
    args = message.args
    return _unexpected(message, args["actor_id"], args.get("party_id", 0))


# The JOIN an accepted party invite makes: ERROR_UNEXPECTED to the target.
invite_accepted_died = invite_contracts.accepted_died(messages.INVITE_TYPE_PARTY, _unexpected)


# --- how a service gets the prepare step's answers -----------------------------------

# Every service takes them, decoded, as ``looked_up``.
LOOKED_UP = {"looked_up": lookups.looked_up}
# JOIN's actor is the character who joins.
JOINER = {**LOOKED_UP, "character_id": lambda message: message.args["actor_id"]}


# --- COMMAND_TOPIC_PARTY ------------------------------------------------------------

for _type, _schema, _prepare, _service, _extra in [
    (messages.COMMAND_CREATE, messages.CreateCommand, lookups.actor, services.party_create,
     LOOKED_UP),
    (messages.COMMAND_JOIN, messages.JoinCommand, lookups.actor, services.party_join, JOINER),
    (messages.COMMAND_LEAVE, messages.LeaveCommand, lookups.leave, services.party_leave_command,
     LOOKED_UP),
    (messages.COMMAND_CHANGE_LEADER, messages.ChangeLeaderCommand, lookups.change_leader,
     services.party_change_leader, LOOKED_UP),
    (messages.COMMAND_REQUEST_INVITE, messages.RequestInviteCommand, lookups.request_invite,
     services.party_request_invite, LOOKED_UP),
]:  # fmt: skip
    consumer.command(
        COMMANDS,
        _type,
        _schema,
        prepare=_prepare,
        service=_service,
        extra=_extra,
        on_dead=command_died,
    )

# --- EVENT_TOPIC_INVITE_STATUS ----------------------------------------------------

consumer.event(
    messages.EVENT_TOPIC_INVITE_STATUS,
    messages.INVITE_ACCEPTED,
    messages.InviteStatusEvent,
    prepare=lookups.invite_accepted,
    service=services.party_invite_accepted,
    extra=LOOKED_UP,
    on_dead=invite_accepted_died,
)

# --- EVENT_TOPIC_CHARACTER_STATUS ---------------------------------------------------

for _type, _prepare, _service in [
    (character_status.LOGIN, lookups.login, services.character_login),
    (character_status.GM_CHANGED, lookups.character_refetched, services.character_gm_changed),
    (character_status.LOGOUT, lookups.character, services.character_logout),
    (character_status.CHANNEL_CHANGED, lookups.character, services.character_channel_changed),
    (character_status.MAP_CHANGED, lookups.character, services.character_map_changed),
    (character_status.LEVEL_CHANGED, lookups.character, services.character_level_changed),
    (character_status.JOB_CHANGED, lookups.character, services.character_job_changed),
    (character_status.NAME_CHANGED, lookups.character, services.character_name_changed),
    (character_status.DELETED, lookups.character, services.character_deleted),
]:  # fmt: skip
    consumer.event(
        CHARACTERS,
        _type,
        messages.CHARACTER_EVENTS[_type],
        prepare=_prepare,
        service=_service,
        extra=LOOKED_UP,
    )
