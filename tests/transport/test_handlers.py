"""Consumed records through the app's decoding and handlers: registry,
logout warps, START, the stand-ins, and bad input as dead letters."""

from __future__ import annotations

import uuid

import pytest

from project.directory.models import Portal
from project.messaging import registry
from tests.support import new_tenant, sent_by
from tests.transport.support import TENANT_UUID, at, deliver
from transport import clock, config, messages, services
from transport.models import Channel, InstanceCharacter

pytestmark = pytest.mark.django_db

NIL = str(uuid.UUID(int=0))
KERNING = "6886431a-c4ba-57a9-98f7-c9fdf7df6bb9"


@pytest.fixture
def tenant():
    tenant = new_tenant(tenant_uuid=TENANT_UUID)
    services.seed_configuration_load(tenant=tenant, now=at("2026-08-06T00:00:00"))
    return tenant


def channel_event(type_: str, world_id=0, channel_id=1) -> dict:
    return {
        "type": type_,
        "worldId": world_id,
        "channelId": channel_id,
        "ipAddress": "10.0.0.5",
        "port": 8585,
    }


def character_event(type_: str, character_id=1001, **body) -> dict:
    return {
        "transactionId": str(uuid.uuid4()),
        "worldId": 0,
        "characterId": character_id,
        "type": type_,
        "body": body,
    }


def start_command(route_id=KERNING, character_id=1001, **extra) -> dict:
    return {
        "transactionId": str(uuid.uuid4()),
        "worldId": 0,
        "characterId": character_id,
        "type": "START",
        "body": {"routeId": route_id, "channelId": 1},
        **extra,
    }


def map_event(type_: str, map_id: int, character_id=1001) -> dict:
    return {
        "transactionId": NIL,
        "worldId": 0,
        "channelId": 1,
        "mapId": map_id,
        "instance": str(uuid.uuid4()),
        "type": type_,
        "body": {"characterId": character_id},
    }


def test_the_consumer_is_upstreams():
    consumer = registry.get("transport")
    assert consumer.default_group == "Transport Service"
    subs = consumer.subscriptions
    assert set(subs) == {
        "EVENT_TOPIC_CHANNEL_STATUS",
        "EVENT_TOPIC_CHARACTER_STATUS",
        "EVENT_TOPIC_MAP_STATUS",
        "EVENT_TOPIC_CONFIGURATION_STATUS",
        "COMMAND_TOPIC_INSTANCE_TRANSPORT",
    }
    assert subs["EVENT_TOPIC_MAP_STATUS"].start == "latest"
    assert subs["EVENT_TOPIC_CHARACTER_STATUS"].start == "earliest"
    assert subs["COMMAND_TOPIC_INSTANCE_TRANSPORT"].kind == "command"


def test_channels_register_once_and_unregister(tenant):
    for _ in range(2):
        assert deliver(tenant, messages.EVENT_TOPIC_CHANNEL_STATUS, channel_event("STARTED")) == ""
    deliver(tenant, messages.EVENT_TOPIC_CHANNEL_STATUS, channel_event("STARTED", channel_id=2))
    assert Channel.objects.filter(tenant=tenant).count() == 2
    deliver(tenant, messages.EVENT_TOPIC_CHANNEL_STATUS, channel_event("SHUTDOWN"))
    assert list(Channel.objects.filter(tenant=tenant).values_list("channel_id", flat=True)) == [2]
    assert deliver(tenant, messages.EVENT_TOPIC_CHANNEL_STATUS, channel_event("OTHER")) == ""


def test_logout_in_a_staging_map_warps_to_the_start_map_with_a_spawn_portal(tenant):
    Portal.objects.create(tenant=tenant, map_id=101000300, portal_id=3)  # a spawn point
    Portal.objects.create(
        tenant=tenant, map_id=101000300, portal_id=4, type=2, target_map_id=101000301
    )  # a real portal: never chosen
    deliver(
        tenant,
        messages.EVENT_TOPIC_CHARACTER_STATUS,
        character_event("LOGOUT", channelId=2, mapId=101000301, instance=NIL),
    )
    ((topic, key, value),) = sent_by(tenant)
    assert (topic, key) == (messages.COMMAND_TOPIC_CHARACTER, bytes.fromhex("e903000000000000"))
    assert value == {
        "worldId": 0,
        "characterId": 1001,
        "type": "CHANGE_MAP",
        "body": {"channelId": 2, "mapId": 101000300, "instance": NIL, "portalId": 3},
    }


@pytest.mark.parametrize("map_id", [200090011, 200090001])
def test_logout_in_any_en_route_map_warps_to_its_routes_start_map(tenant, map_id):
    deliver(
        tenant,
        messages.EVENT_TOPIC_CHARACTER_STATUS,
        character_event("LOGOUT", channelId=1, mapId=map_id, instance=NIL),
    )
    ((_, _, value),) = sent_by(tenant)
    assert value["body"]["mapId"] == {200090011: 101000300, 200090001: 200000111}[map_id]


@pytest.mark.parametrize("map_id", [101000300, 200000100, 100000000])
def test_logout_elsewhere_does_nothing(tenant, map_id):
    deliver(
        tenant,
        messages.EVENT_TOPIC_CHARACTER_STATUS,
        character_event("LOGOUT", channelId=1, mapId=map_id, instance=NIL),
    )
    assert sent_by(tenant) == []


def test_logout_on_an_instance_trip_cancels_then_nothing_else(tenant):
    deliver(tenant, messages.COMMAND_TOPIC_INSTANCE_TRANSPORT, start_command())
    deliver(
        tenant,
        messages.EVENT_TOPIC_CHARACTER_STATUS,
        character_event("LOGOUT", channelId=1, mapId=103000301, instance=str(uuid.uuid4())),
    )
    assert [v["type"] for _, _, v in sent_by(tenant, messages.EVENT_TOPIC_INSTANCE_TRANSPORT)] == [
        "STARTED",
        "CANCELLED",
    ]


def test_start_over_kafka_boards_and_a_refusal_emits_nothing(tenant):
    assert deliver(tenant, messages.COMMAND_TOPIC_INSTANCE_TRANSPORT, start_command()) == ""
    assert InstanceCharacter.objects.filter(tenant=tenant, character_id=1001).exists()
    count = len(sent_by(tenant))
    assert deliver(tenant, messages.COMMAND_TOPIC_INSTANCE_TRANSPORT, start_command()) == ""
    assert (
        deliver(
            tenant,
            messages.COMMAND_TOPIC_INSTANCE_TRANSPORT,
            start_command(route_id=str(uuid.uuid4()), character_id=5),
        )
        == ""
    )
    assert len(sent_by(tenant)) == count


def test_map_enter_drives_the_instance(tenant):
    deliver(tenant, messages.COMMAND_TOPIC_INSTANCE_TRANSPORT, start_command())
    with clock.frozen(clock.now()):
        deliver(tenant, messages.EVENT_TOPIC_MAP_STATUS, map_event("CHARACTER_ENTER", 103000301))
    deliver(tenant, messages.EVENT_TOPIC_MAP_STATUS, map_event("CHARACTER_EXIT", 103000301))
    deliver(tenant, messages.EVENT_TOPIC_MAP_STATUS, map_event("CHARACTER_ENTER", 103000310))
    assert [v["type"] for _, _, v in sent_by(tenant, messages.EVENT_TOPIC_INSTANCE_TRANSPORT)] == [
        "STARTED",
        "TRANSIT_ENTERED",
        "CANCELLED",
    ]


@pytest.mark.parametrize("type_", ["LOGIN", "MAP_CHANGED", "CHANNEL_CHANGED", "DELETED"])
def test_other_character_events_are_skipped(tenant, type_):
    value = character_event(type_, channelId=1, mapId=101000301, instance=NIL)
    assert deliver(tenant, messages.EVENT_TOPIC_CHARACTER_STATUS, value) == ""
    assert sent_by(tenant) == []


def test_a_configuration_event_without_a_tenants_service_changes_nothing(tenant):
    before = list(config.seed_items("routes"))
    error = deliver(
        tenant,
        messages.EVENT_TOPIC_CONFIGURATION_STATUS,
        {
            "tenantId": str(uuid.uuid4()),
            "type": "ROUTE_UPDATED",
            "resourceType": "route",
            "resourceId": "boat-ellinia-orbis",
        },
    )
    assert error == ""
    assert before == config.seed_items("routes")


@pytest.mark.parametrize(
    ("token", "value"),
    [
        (messages.COMMAND_TOPIC_INSTANCE_TRANSPORT, b"{not json"),
        (messages.COMMAND_TOPIC_INSTANCE_TRANSPORT, {**start_command(), "type": "STOP"}),
        (messages.COMMAND_TOPIC_INSTANCE_TRANSPORT, {**start_command(), "characterId": -1}),
        (messages.COMMAND_TOPIC_INSTANCE_TRANSPORT, {**start_command(), "worldId": 256}),
        (
            messages.COMMAND_TOPIC_INSTANCE_TRANSPORT,
            {**start_command(), "body": {"routeId": "", "channelId": 1}},
        ),
        (messages.EVENT_TOPIC_CHANNEL_STATUS, {**channel_event("STARTED"), "channelId": "1"}),
        (messages.EVENT_TOPIC_MAP_STATUS, {**map_event("CHARACTER_ENTER", 1), "mapId": 1.5}),
        (
            messages.EVENT_TOPIC_CHARACTER_STATUS,
            character_event("LOGOUT", channelId=1, mapId=-5, instance=NIL),
        ),
    ],
)
def test_bad_input_is_a_dead_letter_and_changes_nothing(tenant, token, value):
    assert deliver(tenant, token, value) != ""
    assert sent_by(tenant) == []
    assert not Channel.objects.filter(tenant=tenant).exists()
    assert not InstanceCharacter.objects.filter(tenant=tenant).exists()


def test_a_record_without_tenant_headers_is_a_dead_letter(tenant):
    assert deliver(tenant, messages.COMMAND_TOPIC_INSTANCE_TRANSPORT, start_command(), headers=[])
    assert sent_by(tenant) == []


def test_a_tenants_first_start_finds_the_seed_configuration():
    tenant = new_tenant()  # never configured, no tenants service
    assert (
        deliver(
            tenant,
            messages.COMMAND_TOPIC_INSTANCE_TRANSPORT,
            start_command(
                route_id=str(uuid.uuid5(tenant.uuid, "instance-routes/kerning-train-to-square"))
            ),
        )
        == ""
    )
    assert [v["type"] for _, _, v in sent_by(tenant, messages.EVENT_TOPIC_INSTANCE_TRANSPORT)] == [
        "STARTED"
    ]
