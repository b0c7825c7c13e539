"""Transport through the real parts: beat ticks every second, the worker runs the tick,
the bridge consumes, the relay publishes. Routes last seconds, not minutes."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

import pytest
from django.conf import settings

from project.messaging import wire
from project.messaging.models import InboxMessage
from project.tenancy.rows import tenant_row
from tests.kafka_helpers import of_tenant, value_of
from tests.waiting import wait_until
from transport import clock, config, messages, services

pytestmark = [pytest.mark.e2e]

# Generous: the machine is shared, and a loaded stack is slow, not wrong.
DEADLINE = 60

NIL = str(uuid.UUID(int=0))


def in_map(fake_services, tenant_key, map_id: int, *characters: int) -> None:
    """What the (fake) maps service answers for map ``map_id``, channel 1."""
    fake_services.put(
        f"worlds/0/channels/1/maps/{map_id}/instances/{NIL}/characters/",
        {"data": [{"type": "characters", "id": str(c), "attributes": {}} for c in characters]},
        tenant=tenant_key,
    )


def test_a_short_scheduled_route_departs_warps_and_arrives(kafka_client, tenant_key, fake_services):
    status = kafka_client.reader(messages.EVENT_TOPIC_TRANSPORT_STATUS)
    commands = kafka_client.reader(messages.COMMAND_TOPIC_CHARACTER)
    tenant = tenant_row(tenant_key)
    route_id = uuid.uuid5(tenant_key.id, "routes/shuttle")
    # every 8 s: boarding 2 s, 1 s before departure, 3 s of travel
    shuttle = config.RouteConfig(
        route_id=route_id,
        slug="shuttle",
        name="shuttle",
        start_map_id=100,
        staging_map_id=101,
        en_route_map_ids=[102],
        destination_map_id=103,
        observation_map_id=100,
        boarding_window=2,
        pre_departure=1,
        travel=3,
        cycle_interval=8,
    )
    services.scheduled_configuration_replace(
        tenant=tenant,
        scheduled=config.ScheduledConfig([shuttle], []),
        now=clock.now(),
        source="test",
    )
    services.channel_register(tenant=tenant, world_id=0, channel_id=1)
    in_map(fake_services, tenant_key, 101, 4242)  # staging
    in_map(fake_services, tenant_key, 102)  # en route

    # the character in the staging map is carried on board when the shuttle departs
    (warp,) = commands.wait_for(
        of_tenant(tenant_key, where=lambda v: v["characterId"] == 4242), timeout=DEADLINE
    )
    assert warp.key == wire.key_u32(4242)
    assert value_of(warp) == {
        "worldId": 0,
        "characterId": 4242,
        "type": "CHANGE_MAP",
        "body": {"channelId": 1, "mapId": 102, "instance": NIL, "portalId": 0},
    }
    departed = status.wait_for(
        of_tenant(tenant_key, where=lambda v: v["type"] == "DEPARTED"), timeout=DEADLINE
    )[0]
    assert departed.key == str(route_id).encode()
    assert value_of(departed) == {
        "routeId": str(route_id),
        "type": "DEPARTED",
        "body": {"mapId": 100},
    }
    (voyage_out,) = status.wait_for(
        of_tenant(tenant_key, where=lambda v: v["type"] == "VOYAGE_DEPARTED"), timeout=DEADLINE
    )
    voyage_id = value_of(voyage_out)["body"]["voyageId"]
    assert voyage_out.key == voyage_id.encode()

    # atlas-maps would report the character on board; the arrival lands it
    in_map(fake_services, tenant_key, 101)
    in_map(fake_services, tenant_key, 102, 4242)
    arrived = status.wait_for(
        of_tenant(
            tenant_key,
            where=lambda v: v["type"] == "VOYAGE_ARRIVED" and v["body"]["voyageId"] == voyage_id,
        ),
        timeout=DEADLINE,
    )[0]
    assert value_of(arrived)["body"]["departedAt"] == value_of(voyage_out)["body"]["departedAt"]
    commands.wait_for(
        of_tenant(
            tenant_key, where=lambda v: v["characterId"] == 4242 and v["body"]["mapId"] == 103
        ),
        timeout=DEADLINE,
    )
    # every record of the shuttle appears once per trip: no duplicate voyage event
    seen = [
        (value_of(r)["type"], value_of(r)["body"].get("voyageId"))
        for r in status.settled(tenant_key)
        if of_tenant(tenant_key)(r)
    ]
    voyage_events = [item for item in seen if item[1] is not None]
    assert len(voyage_events) == len(set(voyage_events))


def test_an_instance_trip_started_over_kafka_completes(kafka_client, tenant_key):
    events = kafka_client.reader(messages.EVENT_TOPIC_INSTANCE_TRANSPORT)
    commands = kafka_client.reader(messages.COMMAND_TOPIC_CHARACTER)
    tenant = tenant_row(tenant_key)
    route_id = uuid.uuid5(tenant_key.id, "instance-routes/hop")
    services.instance_routes_replace(
        tenant=tenant,
        routes=[
            config.InstanceRouteConfig(
                route_id=route_id,
                slug="hop",
                name="hop",
                start_map_id=200,
                transit_map_ids=[201],
                destination_map_id=202,
                capacity=2,
                boarding_window=1,
                travel=2,
            )
        ],
        now=clock.now(),
        source="test",
    )
    kafka_client.produce(
        messages.COMMAND_TOPIC_INSTANCE_TRANSPORT,
        {
            "transactionId": str(uuid.uuid4()),
            "worldId": 0,
            "characterId": 77,
            "type": "START",
            "body": {"routeId": str(route_id), "channelId": 1},
        },
        key=wire.key_u32(77),
        headers=tenant_key.kafka_headers(),
    )
    (started,) = events.wait_for(
        of_tenant(tenant_key, where=lambda v: v["type"] == "STARTED"), timeout=DEADLINE
    )
    instance_id = value_of(started)["body"]["instanceId"]
    (into,) = commands.wait_for(
        of_tenant(tenant_key, where=lambda v: v["body"]["mapId"] == 201), timeout=DEADLINE
    )
    assert value_of(into)["body"]["instance"] == instance_id
    (completed,) = events.wait_for(
        of_tenant(tenant_key, where=lambda v: v["type"] == "COMPLETED"), timeout=DEADLINE
    )
    assert completed.key == wire.key_u32(77)
    assert value_of(completed)["body"] == {"routeId": str(route_id), "instanceId": instance_id}
    commands.wait_for(
        of_tenant(tenant_key, where=lambda v: v["body"]["mapId"] == 202), timeout=DEADLINE
    )


def test_bad_input_ends_as_a_dead_letter(kafka_client, tenant_key):
    kafka_client.produce(
        messages.COMMAND_TOPIC_INSTANCE_TRANSPORT,
        {
            "transactionId": str(uuid.uuid4()),
            "worldId": 0,
            "characterId": 78,
            "type": "STOP",
            "body": {},
        },
        key=wire.key_u32(78),
        headers=tenant_key.kafka_headers(),
    )
    row = wait_until(
        lambda: InboxMessage.objects.filter(
            app="transport", state=InboxMessage.State.DEAD, message_type="STOP"
        ).first(),
        what="a dead letter for STOP",
    )
    assert row.error


def test_logout_in_a_staging_map_warps_to_the_start_map_at_a_spawn_portal(
    kafka_client, tenant_key, fake_services
):
    commands = kafka_client.reader(messages.COMMAND_TOPIC_CHARACTER)
    tenant = tenant_row(tenant_key)
    services.seed_configuration_load(tenant=tenant, now=clock.now())
    fake_services.put(
        "data/maps/101000300/portals",
        {
            "data": [
                {"type": "portals", "id": "7", "attributes": {"type": 0, "targetMapId": 999999999}},
                {"type": "portals", "id": "5", "attributes": {"type": 2, "targetMapId": 101000301}},
            ]
        },
        tenant=tenant_key,
    )
    kafka_client.produce(
        messages.EVENT_TOPIC_CHARACTER_STATUS,
        {
            "transactionId": str(uuid.uuid4()),
            "worldId": 0,
            "characterId": 55,
            "type": "LOGOUT",
            "body": {"channelId": 2, "mapId": 101000301, "instance": NIL},
        },
        key=wire.key_u32(55),
        headers=tenant_key.kafka_headers(),
    )
    (warp,) = commands.wait_for(
        of_tenant(tenant_key, where=lambda v: v["characterId"] == 55), timeout=DEADLINE
    )
    assert value_of(warp) == {
        "worldId": 0,
        "characterId": 55,
        "type": "CHANGE_MAP",
        "body": {"channelId": 2, "mapId": 101000300, "instance": NIL, "portalId": 7},
    }
    assert fake_services.requests_to("data/maps/101000300/portals")  # looked up, in prepare


def test_rest_start_boards_at_once_and_its_started_event_is_published(
    kafka_client, rest, tenant_key
):
    events = kafka_client.reader(messages.EVENT_TOPIC_INSTANCE_TRANSPORT)
    tenant = tenant_row(tenant_key)
    services.seed_configuration_load(tenant=tenant, now=clock.now())
    kerning = uuid.uuid5(tenant_key.id, "instance-routes/kerning-train-to-square")
    response = rest.post(
        f"/api/transports/instance-routes/{kerning}/start",
        json={
            "data": {
                "type": "start-transport",
                "attributes": {"characterId": 66, "worldId": 0, "channelId": 1},
            }
        },
    )
    assert (response.status_code, response.content) == (204, b"")
    # on board when the answer comes (upstream's order), STARTED published by the relay
    status = rest.get(f"/api/transports/instance-routes/{kerning}/status").json()
    assert [item["attributes"]["characters"] for item in status["data"]] == [1]
    (started,) = events.wait_for(
        of_tenant(tenant_key, where=lambda v: v["type"] == "STARTED"), timeout=DEADLINE
    )
    assert value_of(started)["characterId"] == 66
    assert value_of(started)["body"]["routeId"] == str(kerning)


def test_a_stopped_beat_catches_up_without_skipping_or_repeating(
    kafka_client, tenant_key, fake_services, stack
):
    """Beat stops for two cycles of a 6-second shuttle; once it is back, every
    departure of the gap is announced exactly once, with its own instant (in order,
    where the status topic has one partition)."""
    status = kafka_client.reader(messages.EVENT_TOPIC_TRANSPORT_STATUS)
    tenant = tenant_row(tenant_key)
    shuttle = config.RouteConfig(
        route_id=uuid.uuid5(tenant_key.id, "routes/gap"),
        slug="gap",
        name="gap",
        start_map_id=300,
        staging_map_id=301,
        en_route_map_ids=[302],
        destination_map_id=303,
        observation_map_id=300,
        boarding_window=2,
        pre_departure=1,
        travel=2,
        cycle_interval=6,
    )
    services.scheduled_configuration_replace(
        tenant=tenant,
        scheduled=config.ScheduledConfig([shuttle], []),
        now=clock.now(),
        source="test",
    )
    services.channel_register(tenant=tenant, world_id=0, channel_id=1)

    def departures() -> list[str]:
        return [
            value_of(r)["body"]["departedAt"]
            for r in status.records
            if of_tenant(tenant_key, where=lambda v: v["type"] == "VOYAGE_DEPARTED")(r)
        ]

    status.wait_for(
        of_tenant(tenant_key, where=lambda v: v["type"] == "VOYAGE_DEPARTED"), timeout=DEADLINE
    )
    stack["beat"].stop()
    try:
        stopped = clock.now()
        wait_until(lambda: (clock.now() - stopped).total_seconds() > 2, what="beat stopped")
        status.settled(tenant_key)
        while_stopped = len(departures())
        wait_until(
            lambda: (clock.now() - stopped).total_seconds() > 14,
            timeout=20,
            what="two cycles without beat",
        )
        status.settled(tenant_key)
        before = len(departures())
        assert before == while_stopped  # nothing moved while beat was down
    finally:
        stack["beat"].start()
    resumed = clock.now()
    status.wait_for(
        of_tenant(tenant_key, where=lambda v: v["type"] == "VOYAGE_DEPARTED"),
        count=before + 3,
        timeout=DEADLINE,
    )
    seen = departures()
    assert len(seen) == len(set(seen)), seen  # nothing twice
    instants = [dt.datetime.fromisoformat(s.replace("Z", "+00:00")) for s in seen]
    if settings.KAFKA_TOPIC_PARTITIONS == 1:
        assert instants == sorted(instants)
    # each voyage is a key of its own: over several partitions they arrive in any order
    instants.sort()
    gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(instants)}
    assert gaps == {6.0}, seen  # no departure skipped, across the stop
    assert instants[-1] > resumed - dt.timedelta(seconds=7)
