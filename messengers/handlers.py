"""Inbox messages → messenger services; registered with the messaging registry.

Consumer group ``Messenger Service`` (upstream's) on three topics (§4.1): the
messenger commands, the character status events (LOGIN, LOGOUT, CHANNEL_CHANGED,
DELETED; other types are skipped) and the invite status events (ACCEPTED; the
service ignores other invite types).

Every handler has a ``prepare`` step: it looks up, in the character service, the
characters the message names that the registry does not know yet. It runs before
the inbox transaction, outside any lock (a lookup may wait on HTTP); its result
is stored on the inbox row, so a retried row does not look up again, and the
service creates the registry records from it inside its transaction (§6).

A command the inbox gives up on (a lasting database error, the task time limit,
a defect), and an accepted messenger invite whose JOIN it gives up on, is
answered with ERROR_UNEXPECTED to its actor, as upstream answers every failure
of its processor (``on_dead``, docs/design.md). Character events have no answer.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import DatabaseError, transaction

from messengers import lookups, messages, selectors, services
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


# --- prepare steps: lookups outside the transaction ------------------------------------


def look_up(message: registry.Message, ids: list[int]) -> dict:
    """Fetch those of ``ids`` the registry does not know; the JSON ``prepared`` form."""
    known = selectors.known_character_ids(tenant=message.tenant, ids=ids)
    return lookups.to_json(lookups.fetch_unknown(message.tenant.key, ids, known))


def looking_up(*fields: str) -> Callable[[registry.Message], dict]:
    """A prepare step that looks up the characters named by ``fields`` of the message."""

    def prepare(message: registry.Message) -> dict:
        args = message.args
        return look_up(message, [args[name] for name in fields])

    prepare.__qualname__ = f"looking_up{fields}"
    return prepare


def prepare_login(message: registry.Message) -> dict:
    """LOGIN tries once more when the first lookup failed; a record made from that
    second answer takes the event's world (§8.6 step 1, E15)."""
    args = message.args
    character_id = args["character_id"]
    prepared = look_up(message, [character_id])
    if prepared.get(str(character_id), True) is None:
        again = lookups.fetch(message.tenant.key, character_id)
        if again is not None:
            again = lookups.Facts(name=again.name, world_id=args["world_id"])
            prepared = lookups.to_json({character_id: again})
    return prepared


def prepare_invite_status(message: registry.Message) -> dict:
    """Only MESSENGER invites concern this service: no lookup for the others."""
    args = message.args
    if args["invite_type"] != messages.INVITE_TYPE_MESSENGER:
        return {}
    return look_up(message, [args["target_id"]])


def _looked_up(message: registry.Message) -> lookups.Looked:
    return lookups.from_json(message.prepared)


# Every service takes the prepare step's result, decoded, as ``looked_up``.
LOOKED_UP = {"looked_up": _looked_up}


# --- answers to messages that die -------------------------------------------------------


def _world_of(message: registry.Message, character_id: int) -> int:
    """The character's world: from the lookup, else the registry, else 0 (a database
    that cannot even be read must not keep the answer from being written)."""
    facts = _looked_up(message).get(character_id)
    if facts is not None:
        return facts.world_id
    try:
        with transaction.atomic():
            known = selectors.character(tenant=message.tenant, character_id=character_id)
    except DatabaseError:
        return 0
    return known.world_id if known is not None else 0


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


def invite_accepted_died(message: registry.Message, reason: str) -> list[Record]:
    """The JOIN an accepted messenger invite makes: ERROR_UNEXPECTED to the target."""
    args = message.args
    if args["invite_type"] != messages.INVITE_TYPE_MESSENGER:
        return []
    return _unexpected(message, args["target_id"], args["reference_id"])


# --- COMMAND_TOPIC_MESSENGER --------------------------------------------------------------

for _type, _schema, _prepare, _service in [
    (messages.COMMAND_CREATE, messages.CreateCommand, looking_up("actor_id"),
     services.messenger_create),
    (messages.COMMAND_JOIN, messages.JoinCommand, looking_up("actor_id"),
     services.messenger_join),
    (messages.COMMAND_LEAVE, messages.LeaveCommand, looking_up("actor_id"),
     services.messenger_leave),
    (messages.COMMAND_REQUEST_INVITE, messages.RequestInviteCommand,
     looking_up("actor_id", "character_id"), services.messenger_request_invite),
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
    (messages.CHARACTER_LOGIN, messages.CharacterLoginEvent, prepare_login,
     services.character_login),
    (messages.CHARACTER_LOGOUT, messages.CharacterLogoutEvent, looking_up("character_id"),
     services.character_logout),
    (messages.CHARACTER_DELETED, messages.CharacterDeletedEvent, looking_up("character_id"),
     services.character_logout),
    (messages.CHARACTER_CHANNEL_CHANGED, messages.CharacterChannelChangedEvent,
     looking_up("character_id"), services.character_channel_changed),
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
    prepare=prepare_invite_status,
    service=services.invite_accepted,
    extra=LOOKED_UP,
    on_dead=invite_accepted_died,
)
