"""Inbox messages → note services; registered with the messaging registry.

Consumer group ``Notes Service`` (upstream's), subscribed to the note command
topic (CREATE, DISCARD; any other type is a dead letter) and the character
status topic, of which only ``DELETED`` is acted upon; other character event
types are for other consumers and are skipped.

A CREATE that dies (the inbox gave up on it: a lasting database error, the task
time limit, a defect) is answered with CREATE_FAILED like any failed CREATE, so
the saga that sent it gives the item back (``on_dead``, docs/design.md). A
DISCARD has no failure event upstream, so a dead one is only a dead letter.
"""

from __future__ import annotations

from notes import messages, services
from project.messaging import registry
from project.messaging.errors import Record

consumer = registry.consumer(
    "notes",
    group="Notes Service",
    produces=[messages.EVENT_TOPIC_NOTE_STATUS, messages.COMMAND_TOPIC_SAGA],
)


def create_died(message: registry.Message, reason: str) -> list[Record]:
    """CREATE_FAILED for a CREATE that will never be handled, with the inbox's reason."""
    data = message.data
    return [
        services.create_failed_record(
            transaction_id=data["transactionId"],
            character_id=data["characterId"],
            sender_id=data["body"]["senderId"],
            reason=reason,
        )
    ]


@consumer.command(
    messages.COMMAND_TOPIC_NOTE,
    messages.COMMAND_CREATE,
    messages.CreateCommandSchema,
    on_dead=create_died,
)
def on_create(message: registry.Message) -> None:
    """CREATE ignores worldId / channelId (§5.2)."""
    data, body = message.data, message.data["body"]
    services.note_create_command(
        tenant=message.tenant,
        transaction_id=data["transactionId"],
        character_id=data["characterId"],
        sender_id=body["senderId"],
        message=body["message"],
        flag=body["flag"],
    )


@consumer.command(
    messages.COMMAND_TOPIC_NOTE, messages.COMMAND_DISCARD, messages.DiscardCommandSchema
)
def on_discard(message: registry.Message) -> None:
    """DISCARD ignores transactionId (§5.2)."""
    data = message.data
    services.notes_discard(
        tenant=message.tenant,
        world_id=data["worldId"],
        channel_id=data["channelId"],
        character_id=data["characterId"],
        note_ids=data["body"]["noteIds"],
    )


@consumer.event(
    messages.EVENT_TOPIC_CHARACTER_STATUS,
    messages.CHARACTER_DELETED,
    messages.CharacterDeletedEventSchema,
)
def on_character_deleted(message: registry.Message) -> None:
    services.notes_delete_for_character(
        tenant=message.tenant, character_id=message.data["characterId"]
    )
