"""Inbox messages → messenger services; registered with the messaging registry.

Consumer group ``Messenger Service`` (upstream's) on three topics: the
messenger commands, the character status events (LOGIN, LOGOUT, CHANNEL_CHANGED,
DELETED; other types are skipped) and the invite status events (ACCEPTED; the
service ignores other invite types).

Every type is bound declaratively to one service, with a ``prepare`` step
(``messengers.lookups``) that looks up, in the character service, the characters
the message names that the registry does not know yet.

A command the inbox gives up on (a lasting database error, the task time limit,
a defect), and an accepted messenger invite whose JOIN it gives up on, is
answered with ERROR_UNEXPECTED to its actor, as upstream answers every failure
of its processor (``on_dead``, docs/design.md). Character events have no answer.
"""

from __future__ import annotations

from messengers import lookups, messages, selectors, services
from project.contracts import invites as invite_contracts
from project.directory import characters
from project.messaging import registry
from project.messaging.errors import Record

consumer = registry.consumer(
    "messengers",
    group="Messenger Service",
    produces=[
        messages.EVENT_TOPIC_MESSENGER_STATUS,
        messages.EVENT_TOPIC_MESSENGER_MEMBER_STATUS,
        messages.COMMAND_TOPIC_INVITE,
    ],
)


# Every service takes the prepare step's result, decoded, as ``looked_up``.
LOOKED_UP = {"looked_up": lookups.looked_up}
ACTOR = lookups.characters_named("actor_id")
CHARACTER = lookups.characters_named("character_id")


# --- answers to messages that die -------------------------------------------------------


def _world_of(message: registry.Message, character_id: int) -> int:
    """The character's world: from the lookup, else the registry, else 0."""
    return characters.world_of(
        lookups.looked_up(message).get(character_id),
        lambda: selectors.character(tenant=message.tenant, character_id=character_id),
    )


def _unexpected(message: registry.Message, actor_id: int, messenger_id: int) -> list[Record]:
    return [
        services.error_record(
            transaction_id=message.args["transaction_id"],
            code=messages.ERROR_UNEXPECTED,
            actor_id=actor_id,
            messenger_id=messenger_id,
            world_id=_world_of(message, actor_id),
        )
    ]


def command_died(message: registry.Message, reason: str) -> list[Record]:
    """ERROR_UNEXPECTED to the command's actor, for the messenger it names (0 if none)."""
    args = message.args
    return _unexpected(message, args["actor_id"], args.get("messenger_id", 0))


# The JOIN an accepted messenger invite makes: ERROR_UNEXPECTED to the target.
invite_accepted_died = invite_contracts.accepted_died(messages.INVITE_TYPE_MESSENGER, _unexpected)


# --- COMMAND_TOPIC_MESSENGER --------------------------------------------------------------

for _type, _schema, _prepare, _service in [
    (messages.COMMAND_CREATE, messages.CreateCommand, ACTOR,
     services.messenger_create),
    (messages.COMMAND_JOIN, messages.JoinCommand, ACTOR,
     services.messenger_join),
    (messages.COMMAND_LEAVE, messages.LeaveCommand, ACTOR,
     services.messenger_leave),
    (messages.COMMAND_REQUEST_INVITE, messages.RequestInviteCommand,
     lookups.characters_named("actor_id", "character_id"), services.messenger_request_invite),
]:  # fmt: skip
    consumer.command(
        messages.COMMAND_TOPIC_MESSENGER,
        _type,
        _schema,
        prepare=_prepare,
        service=_service,
        extra=LOOKED_UP,
        on_dead=command_died,
    )

# --- EVENT_TOPIC_CHARACTER_STATUS ----------------------------------------------------------

for _type, _schema, _prepare, _service in [
    (messages.CHARACTER_LOGIN, messages.CharacterLoginEvent, lookups.login,
     services.character_login),
    (messages.CHARACTER_LOGOUT, messages.CharacterLogoutEvent, CHARACTER,
     services.character_logout),
    (messages.CHARACTER_DELETED, messages.CharacterDeletedEvent, CHARACTER,
     services.character_logout),
    (messages.CHARACTER_CHANNEL_CHANGED, messages.CharacterChannelChangedEvent,
     CHARACTER, services.character_channel_changed),
]:  # fmt: skip
    consumer.event(
        messages.EVENT_TOPIC_CHARACTER_STATUS,
        _type,
        _schema,
        prepare=_prepare,
        service=_service,
        extra=LOOKED_UP,
    )

# --- EVENT_TOPIC_INVITE_STATUS -----------------------------------------------------------

consumer.event(
    messages.EVENT_TOPIC_INVITE_STATUS,
    messages.INVITE_ACCEPTED,
    messages.InviteStatusEvent,
    prepare=lookups.invite_accepted,
    service=services.invite_accepted,
    extra=LOOKED_UP,
    on_dead=invite_accepted_died,
)
