"""Inbox messages → invite services; registered with the messaging registry.

Consumer group ``Invitation Service`` (upstream's), subscribed to the invite
command topic and the character status topic, of which only ``DELETED`` is acted
upon; other character event types are for other consumers and are skipped. Each
service is called with the tenant and the message fields it declares.
"""

from __future__ import annotations

from invites import messages, services
from project.messaging import registry

consumer = registry.consumer(
    "invites", group="Invitation Service", produces=[messages.EVENT_TOPIC_INVITE_STATUS]
)

consumer.command(
    messages.COMMAND_TOPIC_INVITE,
    messages.COMMAND_CREATE,
    messages.CreateCommandSchema,
    service=services.invite_create,
)
consumer.command(
    messages.COMMAND_TOPIC_INVITE,
    messages.COMMAND_ACCEPT,
    messages.AcceptCommandSchema,
    service=services.invite_accept,
)
consumer.command(
    messages.COMMAND_TOPIC_INVITE,
    messages.COMMAND_REJECT,
    messages.RejectCommandSchema,
    service=services.invite_reject,
)
consumer.event(
    messages.EVENT_TOPIC_CHARACTER_STATUS,
    messages.CHARACTER_DELETED,
    messages.CharacterDeletedEventSchema,
    service=services.invites_delete_for_character,
)
