"""The messengers tests' vocabulary: topics, a looked-up cast, status and error events."""

from __future__ import annotations

import uuid

from messengers import messages
from messengers.lookups import Facts
from project.tenancy.models import Tenant
from tests.support import emitted

STATUS = messages.EVENT_TOPIC_MESSENGER_STATUS
MEMBER_STATUS = messages.EVENT_TOPIC_MESSENGER_MEMBER_STATUS
INVITE = messages.COMMAND_TOPIC_INVITE
COMMANDS = messages.COMMAND_TOPIC_MESSENGER

FIRST = 1_000_000_000
NIL = uuid.UUID(int=0)

# A small cast: id -> (name, world).
CAST = {
    1001: Facts("Alpha", 0),
    1002: Facts("Bravo", 0),
    1003: Facts("Charlie", 1),
    1004: Facts("Delta", 2),
    1005: Facts("Echo", 3),
    1006: Facts("Foxtrot", 0),
    1007: Facts("Golf", 0),
    1008: Facts("Hotel", 1),
    1009: Facts("India", 1),
}


def looked(*ids: int) -> dict[int, Facts | None]:
    """What the prepare step would have found for ``ids``: the cast, or a failed lookup."""
    return {i: CAST.get(i) for i in ids}


def all_emitted(tenant: Tenant) -> list[tuple[str, str]]:
    """(topic token, type) of everything the tenant caused, in emission (outbox) order."""
    return [(record.token, record.type) for record in emitted(tenant=tenant)]


def status(
    type_: str,
    *,
    actor: int,
    messenger: int,
    world: int = 0,
    body: dict | None = None,
    tx: uuid.UUID = NIL,
) -> dict:
    return {
        "transactionId": str(tx),
        "actorId": actor,
        "worldId": world,
        "messengerId": messenger,
        "type": type_,
        "body": {} if body is None else body,
    }


def error(code: str, *, actor: int, messenger: int, world: int = 0, name: str = "", tx=NIL) -> dict:
    return status(
        "ERROR",
        actor=actor,
        messenger=messenger,
        world=world,
        body={"type": code, "characterName": name},
        tx=tx,
    )
