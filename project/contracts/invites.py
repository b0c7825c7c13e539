"""The invites contracts other apps use: the CREATE command they send, the status
events they consume. The invites app owns the topics and
imports these too.

Upstream producers differ on ``transactionId``: parties sends none, messengers
sends one; ``create_command`` writes the field only when given one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from project.messaging import registry, wire
from project.messaging.errors import Record
from project.messaging.schemas import U8, U32, UUID, GoSchema, Object, Str

COMMAND_TOPIC_INVITE = "COMMAND_TOPIC_INVITE"
EVENT_TOPIC_INVITE_STATUS = "EVENT_TOPIC_INVITE_STATUS"

COMMAND_CREATE = "CREATE"
EVENT_CREATED = "CREATED"
EVENT_ACCEPTED = "ACCEPTED"
EVENT_REJECTED = "REJECTED"


def command_key(reference_id: int) -> bytes:
    """Producers key the CREATE command by the reference (party or messenger id)."""
    return wire.key_u32(reference_id)


def create_command(
    *,
    world_id: int,
    invite_type: str,
    originator_id: int,
    target_id: int,
    reference_id: int,
    transaction_id: uuid.UUID | None = None,
) -> dict:
    """The CREATE command, fields in upstream struct order."""
    command: dict = {}
    if transaction_id is not None:
        command["transactionId"] = str(transaction_id)
    command.update(
        worldId=world_id,
        inviteType=invite_type,
        type=COMMAND_CREATE,
        body={"originatorId": originator_id, "targetId": target_id, "referenceId": reference_id},
    )
    return command


# The CREATE command's body: invites reads it, parties and messengers write it. (No
# docstring: a schema's docstring becomes its description in docs/asyncapi.yaml.)
class CreateBody(GoSchema):
    originatorId = U32()
    targetId = U32()
    referenceId = U32()


class StatusBody(GoSchema):
    originatorId = U32()
    targetId = U32()


class StatusEvent(GoSchema):
    """Any status event (CREATED, ACCEPTED, REJECTED): one shape for all."""

    transactionId = UUID()
    worldId = U8()
    inviteType = Str()
    referenceId = U32()
    type = Str()
    body = Object(StatusBody)


def accepted_died(
    invite_type: str, unexpected: Callable[[registry.Message, int, int], list[Record]]
) -> registry.DeadFunc:
    """``on_dead`` of an ACCEPTED the consumer turns into a JOIN (parties, messengers):
    answered as that JOIN would be, ``unexpected(message, target, reference)`` (the
    app's ERROR_UNEXPECTED); an invite of another type was never this app's, so
    nothing."""

    def died(message: registry.Message, reason: str) -> list[Record]:
        args = message.args
        if args["invite_type"] != invite_type:
            return []
        return unexpected(message, args["target_id"], args["reference_id"])

    return died
