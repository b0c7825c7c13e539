"""Helpers of the transport tests: tenants, clocks, emitted records, handler calls."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from project.messaging import registry, wire
from project.messaging.decoding import decode
from project.messaging.models import OutboxMessage
from project.tenancy.models import Tenant
from project.tenancy.rows import tenant_row
from transport import messages

TENANT_UUID = uuid.UUID("ec876921-c363-4cc6-9c51-5bb8d57f9553")


def new_tenant(tenant_uuid: uuid.UUID | None = None) -> Tenant:
    return Tenant.objects.create(
        uuid=tenant_uuid or uuid.uuid4(), region="GMS", major_version=83, minor_version=1
    )


def at(text: str) -> dt.datetime:
    """``"2026-08-06T00:05:00"`` (optionally with a fraction) as an aware UTC instant."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def emitted(tenant: Tenant, token: str | None = None) -> list[tuple[str, bytes, dict]]:
    """(topic token, key, value) of every record the tenant emitted, in emission order."""
    names = {wire.topic_name(t): t for t in messages.PRODUCED}
    rows = OutboxMessage.objects.filter(tenant=tenant).order_by("id")
    if token is not None:
        rows = rows.filter(topic=wire.topic_name(token))
    return [(names.get(r.topic, r.topic), bytes(r.key), json.loads(bytes(r.value))) for r in rows]


def values(tenant: Tenant, token: str) -> list[dict]:
    return [value for _, _, value in emitted(tenant, token)]


def types(tenant: Tenant, token: str) -> list[str]:
    return [value["type"] for value in values(tenant, token)]


def clear_outbox(tenant: Tenant) -> None:
    OutboxMessage.objects.filter(tenant=tenant).delete()


def subscription(token: str) -> registry.Subscription:
    return registry.get("transport").subscriptions[token]


def deliver(tenant: Tenant, token: str, value: dict | bytes, *, headers=None) -> str:
    """Decode ``value`` as the bridge and the worker do, then run its handler (and its
    ``prepare``) as the inbox would. Returns the decoding error ("" when handled or
    skipped)."""
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    decoded = decode(
        subscription(token), headers if headers is not None else tenant.key.kafka_headers(), raw
    )
    if decoded.error or decoded.handler is None:
        return decoded.error
    message = registry.Message(
        tenant=tenant_row(decoded.tenant),
        data=decoded.data,
        key=None,
        inbox_id=0,
        environment="",
        trace=None,
    )
    prepare = getattr(decoded.handler, "prepare", None)
    if prepare is not None:
        message = registry.Message(**{**_fields(message), "prepared": prepare(message)})
    decoded.handler.func(message)
    return ""


def _fields(message: registry.Message) -> dict:
    return {name: getattr(message, name) for name in message.__dataclass_fields__}


def place(
    tenant: Tenant, character_id: int, map_id: int, *, channel_id: int = 1, world_id: int = 0
) -> None:
    """Put an online character in a map of the local directory (the maps stand-in)."""
    from project.directory.models import Character

    Character.objects.update_or_create(
        tenant=tenant,
        character_id=character_id,
        defaults={
            "world_id": world_id,
            "channel_id": channel_id,
            "map_id": map_id,
            "instance": uuid.UUID(int=0),
            "online": True,
        },
    )
