"""Inbox messages → note services; registered with the messaging registry.

Consumer group ``Notes Service`` (upstream's), subscribed to the note command
topic (CREATE, DISCARD; any other type is a dead letter) and the character
status topic, of which only ``DELETED`` is acted upon; other character event
types are for other consumers and are skipped.
"""

from __future__ import annotations

from notes import messages, services
from project.messaging import registry

consumer = registry.consumer(
    "notes",
    group="Notes Service",
    produces=[messages.EVENT_TOPIC_NOTE_STATUS, messages.COMMAND_TOPIC_SAGA],
)


@consumer.command(
    messages.COMMAND_TOPIC_NOTE, messages.COMMAND_CREATE, messages.CreateCommandSchema
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
