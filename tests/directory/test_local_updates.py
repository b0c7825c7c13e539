"""The local directory follows the character status events (its own consumer)."""

from __future__ import annotations

import uuid

import pytest

from project.contracts import character_status as cs
from project.directory.models import Character
from project.messaging import bridge, inbox, registry, wire
from project.messaging.models import InboxMessage
from tests.delivery import Record

pytestmark = pytest.mark.django_db

TOPIC = wire.topic_name(cs.EVENT_TOPIC_CHARACTER_STATUS)


def event(tenant_key, offset: int, type_: str, body: dict, character_id: int = 42) -> Record:
    value = wire.dumps(
        {
            "transactionId": str(uuid.uuid4()),
            "worldId": 1,
            "characterId": character_id,
            "type": type_,
            "body": body,
        }
    )
    return Record(TOPIC, 0, offset, wire.key_u32(character_id), value, tenant_key.kafka_headers())


def handle_all(tenant_key, records: list[Record]) -> None:
    bridge.store(registry.get("directory"), records)
    for row in InboxMessage.objects.filter(tenant__uuid=tenant_key.id, app="directory"):
        inbox.process(row.id)


def test_events_keep_the_character_current(tenant_key):
    nil = "00000000-0000-0000-0000-000000000000"
    handle_all(
        tenant_key,
        [
            event(tenant_key, 0, "LOGIN", {"channelId": 2, "mapId": 100000000, "instance": nil}),
            event(tenant_key, 1, "LEVEL_CHANGED", {"channelId": 2, "amount": 1, "current": 31}),
            event(tenant_key, 2, "JOB_CHANGED", {"channelId": 2, "jobId": 210}),
            event(tenant_key, 3, "NAME_CHANGED", {"oldName": "", "newName": "Bob"}),
            event(tenant_key, 4, "GM_CHANGED", {"oldGm": False, "newGm": True}),
            event(
                tenant_key,
                5,
                "MAP_CHANGED",
                {
                    "channelId": 3,
                    "oldMapId": 100000000,
                    "targetMapId": 101000000,
                    "targetInstance": nil,
                },
            ),
            event(tenant_key, 6, "LOGOUT", {"channelId": 3, "mapId": 101000000, "instance": nil}),
        ],
    )
    character = Character.objects.get(tenant__uuid=tenant_key.id, character_id=42)
    assert (character.name, character.level, character.job_id, character.gm) == ("Bob", 31, 210, 1)
    assert (character.world_id, character.channel_id, character.map_id) == (1, 3, 101000000)
    assert character.online is False


def test_deletion_removes_the_character(tenant_key):
    nil = "00000000-0000-0000-0000-000000000000"
    handle_all(
        tenant_key,
        [
            event(tenant_key, 0, "LOGIN", {"channelId": 1, "mapId": 1, "instance": nil}),
            event(tenant_key, 1, "DELETED", {}),
        ],
    )
    assert not Character.objects.filter(tenant__uuid=tenant_key.id).exists()
