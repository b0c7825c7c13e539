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

for _type, _schema, _service in [
    (messages.COMMAND_CREATE, messages.CreateCommandSchema, services.invite_create),
    (messages.COMMAND_ACCEPT, messages.AcceptCommandSchema, services.invite_accept),
    (messages.COMMAND_REJECT, messages.RejectCommandSchema, services.invite_reject),
]:
    consumer.command(messages.COMMAND_TOPIC_INVITE, _type, _schema, service=_service)

consumer.event(
    messages.EVENT_TOPIC_CHARACTER_STATUS,
    messages.CHARACTER_DELETED,
    messages.CharacterDeletedEventSchema,
    service=services.invites_delete_for_character,
)
