"""Helpers for the messengers tests: tenants, looked-up characters, emitted records."""

from __future__ import annotations

import json
import uuid

from messengers import messages
from messengers.lookups import Facts
from project.messaging import wire
from project.messaging.models import OutboxMessage
from project.tenancy.models import Tenant

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


def new_tenant(*, region: str = "GMS", major: int = 83, minor: int = 1) -> Tenant:
    return Tenant.objects.create(
        uuid=uuid.uuid4(), region=region, major_version=major, minor_version=minor
    )


def looked(*ids: int) -> dict[int, Facts | None]:
    """What the prepare step would have found for ``ids``: the cast, or a failed lookup."""
    return {i: CAST.get(i) for i in ids}


def records(token: str, tenant: Tenant | None = None) -> list[OutboxMessage]:
    rows = OutboxMessage.objects.filter(topic=wire.topic_name(token)).order_by("id")
    if tenant is not None:
        rows = rows.filter(tenant=tenant)
    return list(rows)


def emitted(token: str, tenant: Tenant) -> list[tuple[bytes, dict]]:
    """(key, value) of the records emitted on ``token`` for ``tenant``, in emission order."""
    return [(bytes(row.key), json.loads(bytes(row.value))) for row in records(token, tenant)]


def values(token: str, tenant: Tenant) -> list[dict]:
    return [value for _, value in emitted(token, tenant)]


def all_emitted(tenant: Tenant) -> list[tuple[str, str]]:
    """(topic token, type) of everything the tenant caused, in emission (outbox) order."""
    names = {wire.topic_name(t): t for t in (STATUS, MEMBER_STATUS, INVITE, COMMANDS)}
    rows = OutboxMessage.objects.filter(tenant=tenant).order_by("id")
    return [(names.get(row.topic, row.topic), row.message_type) for row in rows]


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
