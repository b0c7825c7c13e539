"""Inbox messages → party services; registered with the messaging registry.

Consumer group ``Party Service`` (upstream's), subscribed to the party command
topic (every type is handled; an unknown one is a dead letter), the character
status topic (nine types; the rest are for other consumers and skipped) and the
invite status topic (ACCEPTED only). Every handler has a prepare step for its
character lookups (``parties.prepare``) and calls one service with its answers.

A command the inbox gives up on (a lasting database error, the task time limit,
a defect), and an accepted party invite whose JOIN it gives up on, is answered
with ERROR_UNEXPECTED to its actor, as upstream answers every failure of its
processor (``on_dead``, docs/design.md). Character events have no answer.
"""

from __future__ import annotations

from django.db import DatabaseError, transaction

from parties import events, messages, prepare, selectors, services
from parties.prepare import Prepared
from project.contracts import character_status
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
    """The character's world: from the lookup, else the cache, else 0 (a database that
    cannot even be read must not keep the answer from being written)."""
    facts = Prepared.from_message(message).fetched.get(character_id)
    if facts is not None:
        return facts.world_id
    try:
        with transaction.atomic():
            cached = selectors.character_get(tenant=message.tenant, character_id=character_id)
    except DatabaseError:
        return 0
    return cached.world_id if cached is not None else 0


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


def invite_accepted_died(message: registry.Message, reason: str) -> list[Record]:
    """The JOIN an accepted party invite makes: ERROR_UNEXPECTED to the target."""
    args = message.args
    if args["invite_type"] != messages.INVITE_TYPE_PARTY:
        return []
    return _unexpected(message, args["target_id"], args["reference_id"])


# --- COMMAND_TOPIC_PARTY ------------------------------------------------------------


@consumer.command(
    COMMANDS,
    messages.COMMAND_CREATE,
    messages.CreateCommand,
    prepare=prepare.actor,
    on_dead=command_died,
)
def on_create(message: registry.Message) -> None:
    services.party_create(
        tenant=message.tenant,
        actor_id=message.args["actor_id"],
        fetched=Prepared.from_message(message).fetched,
    )


@consumer.command(
    COMMANDS,
    messages.COMMAND_JOIN,
    messages.JoinCommand,
    prepare=prepare.actor,
    on_dead=command_died,
)
def on_join(message: registry.Message) -> None:
    args = message.args
    services.party_join(
        tenant=message.tenant,
        character_id=args["actor_id"],
        party_id=args["party_id"],
        fetched=Prepared.from_message(message).fetched,
    )


@consumer.command(
    COMMANDS,
    messages.COMMAND_LEAVE,
    messages.LeaveCommand,
    prepare=prepare.leave,
    on_dead=command_died,
)
def on_leave(message: registry.Message) -> None:
    """``force`` makes it an expel (§5.1): actor expels ``characterId``; otherwise the
    actor leaves and ``characterId`` is ignored."""
    args = message.args
    fetched = Prepared.from_message(message).fetched
    if args["force"]:
        services.party_expel(
            tenant=message.tenant,
            actor_id=args["actor_id"],
            party_id=args["party_id"],
            character_id=args["character_id"],
            fetched=fetched,
        )
    else:
        services.party_leave(
            tenant=message.tenant,
            character_id=args["actor_id"],
            party_id=args["party_id"],
            transaction_id=args["transaction_id"],
            fetched=fetched,
        )


@consumer.command(
    COMMANDS,
    messages.COMMAND_CHANGE_LEADER,
    messages.ChangeLeaderCommand,
    prepare=prepare.change_leader,
    on_dead=command_died,
)
def on_change_leader(message: registry.Message) -> None:
    args = message.args
    services.party_change_leader(
        tenant=message.tenant,
        actor_id=args["actor_id"],
        party_id=args["party_id"],
        leader_id=args["leader_id"],
        fetched=Prepared.from_message(message).fetched,
    )


@consumer.command(
    COMMANDS,
    messages.COMMAND_REQUEST_INVITE,
    messages.RequestInviteCommand,
    prepare=prepare.request_invite,
    on_dead=command_died,
)
def on_request_invite(message: registry.Message) -> None:
    args = message.args
    services.party_request_invite(
        tenant=message.tenant,
        actor_id=args["actor_id"],
        character_id=args["character_id"],
        fetched=Prepared.from_message(message).fetched,
    )


# --- EVENT_TOPIC_INVITE_STATUS ----------------------------------------------------


@consumer.event(
    messages.EVENT_TOPIC_INVITE_STATUS,
    messages.INVITE_ACCEPTED,
    messages.InviteStatusEvent,
    prepare=prepare.invite_accepted,
    on_dead=invite_accepted_died,
)
def on_invite_accepted(message: registry.Message) -> None:
    args = message.args
    services.party_invite_accepted(
        tenant=message.tenant,
        invite_type=args["invite_type"],
        reference_id=args["reference_id"],
        target_id=args["target_id"],
        fetched=Prepared.from_message(message).fetched,
    )


# --- EVENT_TOPIC_CHARACTER_STATUS ---------------------------------------------------

_SCHEMAS = messages.CHARACTER_EVENTS


@consumer.event(
    CHARACTERS, character_status.LOGIN, _SCHEMAS[character_status.LOGIN], prepare=prepare.login
)
def on_login(message: registry.Message) -> None:
    prepared = Prepared.from_message(message)
    services.character_login(
        tenant=message.tenant,
        character_id=message.args["character_id"],
        channel_id=message.args["channel_id"],
        fetched=prepared.fetched,
        fresh=prepared.fresh,
    )


@consumer.event(
    CHARACTERS,
    character_status.GM_CHANGED,
    _SCHEMAS[character_status.GM_CHANGED],
    prepare=prepare.character_refetched,
)
def on_gm_changed(message: registry.Message) -> None:
    prepared = Prepared.from_message(message)
    services.character_gm_changed(
        tenant=message.tenant,
        character_id=message.args["character_id"],
        fetched=prepared.fetched,
        fresh=prepared.fresh,
    )


# The rest take the looked-up character and the event's own fields.
FETCHED = {"fetched": lambda message: Prepared.from_message(message).fetched}

for _type, _service in [
    (character_status.LOGOUT, services.character_logout),
    (character_status.CHANNEL_CHANGED, services.character_channel_changed),
    (character_status.MAP_CHANGED, services.character_map_changed),
    (character_status.LEVEL_CHANGED, services.character_level_changed),
    (character_status.JOB_CHANGED, services.character_job_changed),
    (character_status.NAME_CHANGED, services.character_name_changed),
    (character_status.DELETED, services.character_deleted),
]:
    consumer.event(
        CHARACTERS,
        _type,
        _SCHEMAS[_type],
        prepare=prepare.character,
        service=_service,
        extra=FETCHED,
    )
