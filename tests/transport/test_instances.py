"""Instance routes: START, boarding, arrival, every cancellation, effects, shutdown."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from tests.support import clear_outbox, new_tenant, sent_by
from tests.transport.support import TENANT_UUID, at
from transport import config, messages, services, tick
from transport.models import Instance, InstanceCharacter, InstanceState

pytestmark = pytest.mark.django_db

NIL = str(uuid.UUID(int=0))
KERNING = uuid.UUID("6886431a-c4ba-57a9-98f7-c9fdf7df6bb9")  # 1 s boarding, 10 s travel
TEMPLE = uuid.UUID("c6a00da6-8744-577e-8b15-7efaf28fa74d")  # effect 2210016, forced return
T0 = at("2026-08-06T12:00:00")
INSTANCE = messages.EVENT_TOPIC_INSTANCE_TRANSPORT
CHARACTER = messages.COMMAND_TOPIC_CHARACTER
CONSUMABLE = messages.COMMAND_TOPIC_CONSUMABLE


@pytest.fixture
def tenant():
    tenant = new_tenant(tenant_uuid=TENANT_UUID)
    services.instance_routes_replace(
        tenant=tenant,
        routes=config.parse_instance_routes(TENANT_UUID, config.seed_items("instance-routes")),
        now=T0,
        source="test",
    )
    return tenant


def start(tenant, character_id=1001, route_id=KERNING, now=T0, world_id=0, channel_id=1):
    return services.instance_transport_start(
        tenant=tenant,
        character_id=character_id,
        world_id=world_id,
        channel_id=channel_id,
        route_id=route_id,
        now=now,
    )


def flat(tenant) -> list[tuple[str, str, int]]:
    """(topic, type, character) of everything emitted, in order."""
    return [(topic, value["type"], value["characterId"]) for topic, _, value in sent_by(tenant)]


def test_start_creates_an_instance_warps_into_it_and_announces_started(tenant):
    started = start(tenant)
    instance = started.instance
    assert (instance.boarding_until, instance.arrival_at) == (
        T0 + dt.timedelta(seconds=1),
        T0 + dt.timedelta(seconds=11),
    )
    records = sent_by(tenant)
    assert records == [
        (
            CHARACTER,
            bytes.fromhex("e903000000000000"),
            {
                "worldId": 0,
                "characterId": 1001,
                "type": "CHANGE_MAP",
                "body": {
                    "channelId": 1,
                    "mapId": 103000301,
                    "instance": str(instance.instance_id),
                    "portalId": 0,
                },
            },
        ),
        (
            INSTANCE,
            bytes.fromhex("e903000000000000"),
            {
                "transactionId": NIL,
                "worldId": 0,
                "characterId": 1001,
                "type": "STARTED",
                "body": {"routeId": str(KERNING), "instanceId": str(instance.instance_id)},
            },
        ),
    ]


def test_a_character_already_travelling_or_an_unknown_route_is_refused_with_no_output(tenant):
    start(tenant)
    clear_outbox(tenant)
    with pytest.raises(services.StartRefused, match="already in transport"):
        start(tenant, route_id=TEMPLE)
    with pytest.raises(services.StartRefused, match="route not found"):
        start(tenant, character_id=2002, route_id=uuid.uuid4())
    assert sent_by(tenant) == []


def test_a_full_or_closed_instance_is_never_joined(tenant):
    first = start(tenant, character_id=1).instance  # capacity 1
    second = start(tenant, character_id=2).instance
    assert second.instance_id != first.instance_id
    services.instance_routes_replace(
        tenant=tenant,
        routes=[
            config.InstanceRouteConfig(
                route_id=KERNING,
                slug="k",
                name="k",
                start_map_id=1,
                transit_map_ids=[5],
                destination_map_id=9,
                capacity=3,
                boarding_window=5,
                travel=10,
            )
        ],
        now=T0,
        source="test",
    )
    third = start(tenant, character_id=3, now=T0 + dt.timedelta(seconds=0.5)).instance
    assert third.instance_id == first.instance_id  # room again, window still open
    late = start(tenant, character_id=4, now=T0 + dt.timedelta(seconds=1)).instance
    assert late.instance_id not in (first.instance_id, second.instance_id)  # window closed


def test_boarding_expiry_then_arrival_completes_at_the_destination(tenant):
    instance = start(tenant).instance
    clear_outbox(tenant)

    tick.run(T0 + dt.timedelta(seconds=1.5))
    assert Instance.objects.get(pk=instance.pk).state == InstanceState.IN_TRANSIT
    assert sent_by(tenant) == []

    tick.run(T0 + dt.timedelta(seconds=11))  # not strictly after arrivalAt yet
    assert Instance.objects.filter(pk=instance.pk).exists()

    tick.run(T0 + dt.timedelta(seconds=11.2))
    assert sent_by(tenant) == [
        (
            CHARACTER,
            bytes.fromhex("e903000000000000"),
            {
                "worldId": 0,
                "characterId": 1001,
                "type": "CHANGE_MAP",
                "body": {"channelId": 1, "mapId": 103000310, "instance": NIL, "portalId": 0},
            },
        ),
        (
            INSTANCE,
            bytes.fromhex("e903000000000000"),
            {
                "transactionId": NIL,
                "worldId": 0,
                "characterId": 1001,
                "type": "COMPLETED",
                "body": {"routeId": str(KERNING), "instanceId": str(instance.instance_id)},
            },
        ),
    ]
    assert not Instance.objects.filter(pk=instance.pk).exists()
    assert not InstanceCharacter.objects.filter(tenant=tenant).exists()


def test_effects_are_applied_on_boarding_and_a_forced_return_ends_in_timeout(tenant):
    start(tenant, route_id=TEMPLE)
    assert flat(tenant) == [
        (CONSUMABLE, "APPLY_CONSUMABLE_EFFECT", 1001),
        (CHARACTER, "CHANGE_MAP", 1001),
        (INSTANCE, "STARTED", 1001),
    ]
    apply = sent_by(tenant, CONSUMABLE)[0][2]
    assert apply == {
        "transactionId": NIL,
        "worldId": 0,
        "channelId": 1,
        "mapId": 0,
        "instance": NIL,
        "characterId": 1001,
        "type": "APPLY_CONSUMABLE_EFFECT",
        "body": {"itemId": 2210016},
    }
    clear_outbox(tenant)

    tick.run(T0 + dt.timedelta(seconds=901.5))

    assert flat(tenant) == [
        (CONSUMABLE, "CANCEL_CONSUMABLE_EFFECT", 1001),
        (CHARACTER, "CHANGE_MAP", 1001),
        (INSTANCE, "CANCELLED", 1001),
    ]
    records = sent_by(tenant)
    assert records[1][2]["body"]["mapId"] == 240000110
    assert records[2][2]["body"]["reason"] == "TIMEOUT"


def test_zero_travel_completes_in_the_first_tick_after_boarding(tenant):
    services.instance_routes_replace(
        tenant=tenant,
        routes=[
            config.InstanceRouteConfig(
                route_id=KERNING,
                slug="k",
                name="k",
                start_map_id=1,
                transit_map_ids=[5],
                destination_map_id=9,
                capacity=1,
                boarding_window=1,
                travel=0,
            )
        ],
        now=T0,
        source="test",
    )
    start(tenant)
    clear_outbox(tenant)
    tick.run(T0 + dt.timedelta(seconds=1.1))
    assert [t for _, t, _ in flat(tenant)] == ["CHANGE_MAP", "COMPLETED"]


def enter(tenant, map_id: int, now: dt.datetime, character_id=1001, channel_id=2, world_id=0):
    services.character_map_enter(
        tenant=tenant,
        character_id=character_id,
        world_id=world_id,
        channel_id=channel_id,
        map_id=map_id,
        now=now,
    )


def test_entering_the_transit_map_announces_the_remaining_time(tenant):
    instance = start(tenant).instance
    clear_outbox(tenant)
    enter(tenant, 103000301, T0 + dt.timedelta(seconds=0.4))
    ((_, key, value),) = sent_by(tenant)
    assert key == bytes.fromhex("e903000000000000")
    assert value == {
        "transactionId": NIL,
        "worldId": 0,
        "characterId": 1001,
        "type": "TRANSIT_ENTERED",
        "body": {
            "routeId": str(KERNING),
            "instanceId": str(instance.instance_id),
            "channelId": 2,
            "durationSeconds": 10,
            "message": "The next stop is at Kerning Square Station. The exit is to your left.",
        },
    }


def test_moving_between_transit_maps_of_the_route_does_not_cancel(tenant):
    start(tenant, route_id=TEMPLE)
    clear_outbox(tenant)
    enter(tenant, 200090500, T0)
    enter(tenant, 200090510, T0 + dt.timedelta(seconds=100))
    assert [t for _, t, _ in flat(tenant)] == ["TRANSIT_ENTERED", "TRANSIT_ENTERED"]
    assert sent_by(tenant)[1][2]["body"]["durationSeconds"] == 801


def test_another_routes_transit_map_is_only_a_warning(tenant):
    start(tenant)
    clear_outbox(tenant)
    enter(tenant, 200090500, T0)  # a temple transit map
    assert sent_by(tenant) == []
    assert InstanceCharacter.objects.filter(tenant=tenant, character_id=1001).exists()


def test_leaving_the_transit_map_cancels_with_map_exit(tenant):
    instance = start(tenant, route_id=TEMPLE).instance
    clear_outbox(tenant)
    enter(tenant, 240000110, T0 + dt.timedelta(seconds=3), world_id=1, channel_id=3)
    assert flat(tenant) == [
        (CONSUMABLE, "CANCEL_CONSUMABLE_EFFECT", 1001),
        (INSTANCE, "CANCELLED", 1001),
    ]
    cancelled = sent_by(tenant, INSTANCE)[0][2]
    assert cancelled["worldId"] == 1  # the map event's world
    assert cancelled["body"] == {
        "routeId": str(TEMPLE),
        "instanceId": str(instance.instance_id),
        "reason": "MAP_EXIT",
    }
    assert sent_by(tenant, CONSUMABLE)[0][2]["channelId"] == 3
    assert not Instance.objects.filter(pk=instance.pk).exists()  # empty: released


def test_entering_a_map_while_not_travelling_does_nothing(tenant):
    enter(tenant, 103000301, T0)
    enter(tenant, 100000000, T0)
    assert sent_by(tenant) == []


def test_logout_cancels_with_logout_and_releases_the_empty_instance(tenant):
    instance = start(tenant).instance
    clear_outbox(tenant)
    services.character_logout(
        tenant=tenant, character_id=1001, world_id=0, channel_id=1, map_id=103000301
    )
    assert flat(tenant) == [(INSTANCE, "CANCELLED", 1001)]
    assert sent_by(tenant)[0][2]["body"]["reason"] == "LOGOUT"
    assert not Instance.objects.filter(pk=instance.pk).exists()


def test_a_stuck_instance_is_sent_back_to_the_start_map(tenant):
    instance = start(tenant).instance
    # a reload shortens nothing here, but pretend the arrival was never reached
    Instance.objects.filter(pk=instance.pk).update(arrival_at=T0 + dt.timedelta(days=1))
    clear_outbox(tenant)
    tick.run(T0 + dt.timedelta(seconds=21))  # maxLifetime 2 * (1 + 10) = 22 s
    assert sent_by(tenant, INSTANCE) == []
    tick.run(T0 + dt.timedelta(seconds=22.5))
    assert [t for _, t, _ in flat(tenant)] == ["CHANGE_MAP", "CANCELLED"]
    records = sent_by(tenant)
    assert records[0][2]["body"]["mapId"] == 103000100
    assert records[1][2]["body"]["reason"] == "STUCK"


def test_a_reload_shortening_the_route_makes_live_instances_stuck(tenant):
    start(tenant, route_id=TEMPLE)  # 1 + 900 s
    services.instance_routes_replace(
        tenant=tenant,
        routes=[
            config.InstanceRouteConfig(
                route_id=TEMPLE,
                slug="t",
                name="t",
                start_map_id=240000110,
                transit_map_ids=[200090500],
                destination_map_id=270000100,
                capacity=1,
                boarding_window=1,
                travel=5,
                effect_item_ids=[2210016],
            )
        ],
        now=T0,
        source="test",
    )
    clear_outbox(tenant)
    tick.run(T0 + dt.timedelta(seconds=12.5))  # 2 * (1 + 5) = 12 s < 12.5 s
    assert flat(tenant) == [
        (CONSUMABLE, "CANCEL_CONSUMABLE_EFFECT", 1001),
        (CHARACTER, "CHANGE_MAP", 1001),
        (INSTANCE, "CANCELLED", 1001),
    ]


def test_an_instance_of_a_removed_route_is_released_silently_on_arrival(tenant):
    instance = start(tenant).instance
    services.instance_routes_replace(tenant=tenant, routes=[], now=T0, source="test")
    clear_outbox(tenant)
    tick.run(T0 + dt.timedelta(seconds=30))
    assert sent_by(tenant) == []
    assert not Instance.objects.filter(pk=instance.pk).exists()
    assert not InstanceCharacter.objects.filter(tenant=tenant).exists()


def test_graceful_shutdown_warps_everyone_back_without_cancelled(tenant):
    start(tenant, route_id=TEMPLE)
    start(tenant, character_id=2002)
    clear_outbox(tenant)
    assert services.instances_shutdown() == 2
    assert flat(tenant) == [
        (CONSUMABLE, "CANCEL_CONSUMABLE_EFFECT", 1001),
        (CHARACTER, "CHANGE_MAP", 1001),
        (CHARACTER, "CHANGE_MAP", 2002),
    ]
    assert [v["body"]["mapId"] for v in (e[2] for e in sent_by(tenant, CHARACTER))] == [
        240000110,
        103000100,
    ]
    assert not Instance.objects.filter(tenant=tenant).exists()


def test_tenants_never_mix(tenant):
    other = new_tenant()
    services.instance_routes_replace(
        tenant=other,
        routes=config.parse_instance_routes(other.uuid, config.seed_items("instance-routes")),
        now=T0,
        source="test",
    )
    start(tenant)
    with pytest.raises(services.StartRefused, match="route not found"):
        start(other)  # KERNING is this tenant's id, not the other's
    other_kerning = uuid.uuid5(other.uuid, "instance-routes/kerning-train-to-square")
    start(other, route_id=other_kerning)  # the same character id, independent
    assert InstanceCharacter.objects.filter(character_id=1001).count() == 2


def test_the_admin_shows_instances_with_their_characters_and_shuts_selected_ones_down(
    tenant, admin_client
):
    kept = start(tenant, character_id=1).instance
    ended = start(tenant, character_id=2).instance
    page = admin_client.get(f"/admin/transport/instance/{ended.pk}/change/")
    assert page.status_code == 200
    assert b"kerning-train-to-square" in admin_client.get("/admin/transport/instance/").content
    clear_outbox(tenant)
    admin_client.post(
        "/admin/transport/instance/",
        {"action": "shut_down", "_selected_action": [ended.pk]},
    )
    assert list(Instance.objects.filter(tenant=tenant)) == [kept]
    assert flat(tenant) == [(CHARACTER, "CHANGE_MAP", 2)]
