"""Inbox messages → invite services; registered with the messaging registry.

Consumer group ``Invitation Service`` (upstream's), subscribed to the invite
command topic and the character status topic, of which only ``DELETED`` is acted
upon; other character event types are for other consumers and are skipped.
"""

from __future__ import annotations

from invites import messages, services
from project.messaging import registry

consumer = registry.consumer(
    "invites", group="Invitation Service", produces=[messages.EVENT_TOPIC_INVITE_STATUS]
)


@consumer.command(
    messages.COMMAND_TOPIC_INVITE, messages.COMMAND_CREATE, messages.CreateCommandSchema
)
def on_create(message: registry.Message) -> None:
    data, body = message.data, message.data["body"]
    services.invite_create(
        tenant=message.tenant,
        transaction_id=data["transactionId"],
        world_id=data["worldId"],
        invite_type=data["inviteType"],
        originator_id=body["originatorId"],
        target_id=body["targetId"],
        reference_id=body["referenceId"],
    )


@consumer.command(
    messages.COMMAND_TOPIC_INVITE, messages.COMMAND_ACCEPT, messages.AcceptCommandSchema
)
def on_accept(message: registry.Message) -> None:
    data, body = message.data, message.data["body"]
    services.invite_accept(
        tenant=message.tenant,
        transaction_id=data["transactionId"],
        world_id=data["worldId"],
        invite_type=data["inviteType"],
        target_id=body["targetId"],
        reference_id=body["referenceId"],
    )


@consumer.command(
    messages.COMMAND_TOPIC_INVITE, messages.COMMAND_REJECT, messages.RejectCommandSchema
)
def on_reject(message: registry.Message) -> None:
    data, body = message.data, message.data["body"]
    services.invite_reject(
        tenant=message.tenant,
        transaction_id=data["transactionId"],
        world_id=data["worldId"],
        invite_type=data["inviteType"],
        target_id=body["targetId"],
        originator_id=body["originatorId"],
    )


@consumer.event(
    messages.EVENT_TOPIC_CHARACTER_STATUS,
    messages.CHARACTER_DELETED,
    messages.CharacterDeletedEventSchema,
)
def on_character_deleted(message: registry.Message) -> None:
    services.invites_delete_for_character(
        tenant=message.tenant, character_id=message.data["characterId"]
    )
