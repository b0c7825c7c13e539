"""Inbox messages → note services; registered with the messaging registry.

Consumer group ``Notes Service`` (upstream's), subscribed to the note command
topic (CREATE, DISCARD; any other type is a dead letter) and the character
status topic, of which only ``DELETED`` is acted upon; other character event
types are for other consumers and are skipped. Each service is called with the
tenant and the message fields it declares.

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


consumer.command(
    messages.COMMAND_TOPIC_NOTE,
    messages.COMMAND_CREATE,
    messages.CreateCommandSchema,
    service=services.note_create_command,  # worldId and channelId are ignored
    on_dead=create_died,
)
consumer.command(
    messages.COMMAND_TOPIC_NOTE,
    messages.COMMAND_DISCARD,
    messages.DiscardCommandSchema,
    service=services.notes_discard,  # transactionId is ignored
)
consumer.event(
    messages.EVENT_TOPIC_CHARACTER_STATUS,
    messages.CHARACTER_DELETED,
    messages.CharacterDeletedEventSchema,
    service=services.notes_delete_for_character,
)
