"""The tick with an injected clock: transitions, their records, exactly once, catch-up."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from tests.transport import support
from tests.transport.support import TENANT_UUID, at, clear_outbox, emitted, new_tenant, types
from transport import config, messages, services, tick, timetable
from transport.models import Route, RouteState, TickLease

pytestmark = pytest.mark.django_db

NIL = str(uuid.UUID(int=0))
BOAT_A = uuid.UUID("388b7a6a-77e7-5367-8170-d95a4a1a5741")
BOAT_B = uuid.UUID("617b8995-12ad-54de-a331-d39a07c332a8")
STATUS = messages.EVENT_TOPIC_TRANSPORT_STATUS
CHARACTER = messages.COMMAND_TOPIC_CHARACTER


def boat_tenant(now: dt.datetime, tenant_uuid: uuid.UUID = TENANT_UUID):
    """A tenant (the spec's by default) with the seeded boat pair only."""
    tenant = new_tenant(tenant_uuid)
    items = {i["id"]: i for i in config.seed_items("routes")}
    vessels = [v for v in config.seed_items("vessels") if v["id"] == "boat-ellinia-orbis"]
    scheduled = config.parse_scheduled(
        tenant_uuid, [items["boat-ellinia-orbis"], items["boat-orbis-ellinia"]], vessels
    )
    services.scheduled_configuration_replace(
        tenant=tenant, scheduled=scheduled, now=now, source="test"
    )
    return tenant


def place(tenant, character_id: int, map_id: int, channel: int = 1) -> None:
    support.place(tenant, character_id, map_id, channel_id=channel)


def state_of(route_id: uuid.UUID) -> str:
    return Route.objects.get(route_id=route_id).state


def status_events(tenant) -> list[tuple[str, str]]:
    """(route name, type) of the status topic, ARRIVED/DEPARTED and VOYAGE_* alike."""
    names = {
        str(route.route_id): "A" if route.name == "boat-ellinia-orbis" else "B"
        for route in Route.objects.filter(tenant=tenant)
    }
    return [(names[v["routeId"]], v["type"]) for v in (e[2] for e in emitted(tenant, STATUS))]


def test_startup_at_midnight_opens_a_and_b_waits_silently():
    now = at("2026-08-06T00:00:00.2")
    tenant = boat_tenant(now)
    services.channel_register(tenant=tenant, world_id=0, channel_id=1)

    result = tick.run(now)

    assert result.ran and result.transitions == 2
    assert state_of(BOAT_A) == RouteState.OPEN_ENTRY
    assert state_of(BOAT_B) == RouteState.AWAITING_RETURN
    ((topic, key, value),) = emitted(tenant)
    assert (topic, key) == (STATUS, str(BOAT_A).encode())
    assert value == {"routeId": str(BOAT_A), "type": "ARRIVED", "body": {"mapId": 101000300}}


def test_a_voyage_departs_warps_the_staging_map_and_arrives_under_the_same_voyage_id():
    tenant = boat_tenant(at("2026-08-06T00:00:00"))
    services.channel_register(tenant=tenant, world_id=0, channel_id=1)
    services.channel_register(tenant=tenant, world_id=0, channel_id=2)
    tick.run(at("2026-08-06T00:00:00.5"))
    place(tenant, 1001, 101000301, channel=1)  # staging map, channel 1
    place(tenant, 1002, 101000301, channel=2)
    place(tenant, 1003, 101000300, channel=1)  # the pier: stays
    clear_outbox(tenant)

    tick.run(at("2026-08-06T00:04:00.3"))  # locked: nothing
    assert emitted(tenant) == []
    assert state_of(BOAT_A) == RouteState.LOCKED_ENTRY

    tick.run(at("2026-08-06T00:05:00.001"))
    warps = emitted(tenant, CHARACTER)
    assert [(k, v) for _, k, v in warps] == [
        (
            bytes.fromhex("e903000000000000"),
            {
                "worldId": 0,
                "characterId": 1001,
                "type": "CHANGE_MAP",
                "body": {"channelId": 1, "mapId": 200090010, "instance": NIL, "portalId": 0},
            },
        ),
        (
            bytes.fromhex("ea03000000000000"),
            {
                "worldId": 0,
                "characterId": 1002,
                "type": "CHANGE_MAP",
                "body": {"channelId": 2, "mapId": 200090010, "instance": NIL, "portalId": 0},
            },
        ),
    ]
    departed = emitted(tenant, STATUS)
    assert [v["type"] for _, _, v in departed] == ["VOYAGE_DEPARTED", "VOYAGE_DEPARTED", "DEPARTED"]
    trip = timetable.Trip.from_row(Route.objects.get(route_id=BOAT_A).schedule[0])
    voyage = timetable.voyage_id(TENANT_UUID, BOAT_A, trip.trip_id, at("2026-08-06T00:05:00"))
    _, key, first = departed[0]
    assert key == str(voyage).encode()
    assert first == {
        "routeId": str(BOAT_A),
        "type": "VOYAGE_DEPARTED",
        "body": {
            "voyageId": str(voyage),
            "worldId": 0,
            "channelId": 1,
            "stagingMapId": 101000301,
            "enRouteMapIds": [200090010, 200090011],
            "destinationMapId": 200000100,
            "observationMapId": 101000300,
            "departedAt": "2026-08-06T00:05:00Z",
        },
    }
    assert departed[2][1:] == (
        str(BOAT_A).encode(),
        {"routeId": str(BOAT_A), "type": "DEPARTED", "body": {"mapId": 101000300}},
    )

    # the characters are now on board (as atlas-maps would report), both en-route maps
    place(tenant, 1001, 200090010, channel=1)
    place(tenant, 1002, 200090011, channel=2)
    clear_outbox(tenant)
    tick.run(at("2026-08-06T00:15:00.4"))

    assert [
        (v["characterId"], v["body"]["mapId"]) for v in (e[2] for e in emitted(tenant, CHARACTER))
    ] == [(1001, 200000100), (1002, 200000100)]
    arrived = emitted(tenant, STATUS)
    assert [v["type"] for _, _, v in arrived] == ["VOYAGE_ARRIVED", "VOYAGE_ARRIVED"]
    assert all(key == str(voyage).encode() for _, key, _ in arrived)
    assert arrived[0][2]["body"]["departedAt"] == "2026-08-06T00:05:00Z"
    assert state_of(BOAT_A) == RouteState.AWAITING_RETURN


def test_a_tick_at_the_exact_departure_instant_departs():
    tenant = boat_tenant(at("2026-08-06T00:04:30"))
    tick.run(at("2026-08-06T00:04:30"))
    clear_outbox(tenant)
    tick.run(at("2026-08-06T00:05:00"))  # whole second: no spurious awaiting_return
    assert state_of(BOAT_A) == RouteState.IN_TRANSIT
    assert types(tenant, STATUS) == ["DEPARTED"]


def test_nothing_is_emitted_twice_for_repeated_late_or_overlapping_ticks():
    tenant = boat_tenant(at("2026-08-06T00:00:00"))
    for instant in ("00:00:00.1", "00:00:00.1", "00:00:01", "00:00:00.5", "00:00:02"):
        tick.run(at(f"2026-08-06T{instant}"))
    assert status_events(tenant) == [("A", "ARRIVED")]


def test_a_stopped_beat_catches_up_every_missed_transition_in_order():
    tenant = boat_tenant(at("2026-08-06T00:00:00"))
    services.channel_register(tenant=tenant, world_id=0, channel_id=1)
    tick.run(at("2026-08-06T00:00:00.1"))
    place(tenant, 1001, 101000301)  # waiting in A's staging map
    clear_outbox(tenant)

    # beat stops for 21 minutes: A departs and arrives, B opens, locks and departs
    tick.run(at("2026-08-06T00:21:00"))

    assert status_events(tenant) == [
        ("A", "VOYAGE_DEPARTED"),
        ("A", "DEPARTED"),
        ("A", "VOYAGE_ARRIVED"),
        ("B", "ARRIVED"),
        ("B", "VOYAGE_DEPARTED"),
        ("B", "DEPARTED"),
    ]
    # the character was carried through the missed voyage: boarded, then landed
    assert [v["body"]["mapId"] for v in (e[2] for e in emitted(tenant, CHARACTER))] == [
        200090010,
        200000100,
    ]
    voyage_keys = {
        k
        for _, k, v in emitted(tenant, STATUS)
        if v["routeId"] == str(BOAT_A) and v["type"].startswith("VOYAGE")
    }
    assert len(voyage_keys) == 1
    assert state_of(BOAT_A) == RouteState.AWAITING_RETURN
    assert state_of(BOAT_B) == RouteState.IN_TRANSIT

    clear_outbox(tenant)
    tick.run(at("2026-08-06T00:21:00"))  # a second tick after the restart: nothing again
    assert emitted(tenant) == []


def test_beyond_the_catch_up_window_a_route_jumps_to_its_current_state(settings):
    settings.TRANSPORT_CATCH_UP_SECONDS = 60
    tenant = boat_tenant(at("2026-08-06T00:00:00"))
    tick.run(at("2026-08-06T00:00:00.1"))
    clear_outbox(tenant)

    tick.run(at("2026-08-06T00:40:00"))  # A's second trip left at 00:35:10

    # no replay of A's first voyage nor of B's; one transition open_entry -> in_transit
    assert status_events(tenant) == [("A", "DEPARTED")]
    assert state_of(BOAT_A) == RouteState.IN_TRANSIT
    assert state_of(BOAT_B) == RouteState.AWAITING_RETURN


def test_midnight_reopens_the_day():
    tenant = boat_tenant(at("2026-08-06T23:50:00"))
    tick.run(at("2026-08-06T23:50:00"))
    assert state_of(BOAT_B) == RouteState.OUT_OF_SERVICE
    tick.run(at("2026-08-06T23:59:59.9"))
    assert state_of(BOAT_A) == RouteState.OUT_OF_SERVICE  # arrived 23:52:50, last trip
    clear_outbox(tenant)

    tick.run(at("2026-08-07T00:00:00.3"))

    assert state_of(BOAT_A) == RouteState.OPEN_ENTRY
    assert state_of(BOAT_B) == RouteState.AWAITING_RETURN
    assert status_events(tenant) == [("A", "ARRIVED")]


def test_a_simulated_day_emits_every_transition_once_in_order_whatever_the_tick_spacing():
    """The same day ticked at every boundary and at irregular 1 to 611 s gaps (with a
    restart-like repeat) gives exactly the same records in the same order."""
    start = at("2026-08-06T00:00:00")

    def run_day(instants) -> list[tuple[str, str]]:
        tenant = boat_tenant(start, uuid.uuid4())
        services.channel_register(tenant=tenant, world_id=0, channel_id=1)
        for instant in instants:
            tick.run(instant)
        return status_events(tenant)

    end = start + dt.timedelta(days=1)
    schedule = []
    reference_tenant = boat_tenant(start, uuid.uuid4())
    for route in Route.objects.filter(tenant=reference_tenant):
        schedule += [timetable.Trip.from_row(row) for row in route.schedule]
    points = timetable.boundaries(schedule)
    every_boundary = [start + dt.timedelta(microseconds=p) for p in points] + [end]
    irregular, t, gaps = [], start, [37, 611, 120, 1, 299, 45]
    while t <= end:
        irregular.append(t)
        irregular.append(t)  # a duplicate tick (a second beat, a restart)
        t += dt.timedelta(seconds=gaps[len(irregular) % len(gaps)])
    irregular.append(end)

    reference = run_day(every_boundary)
    assert run_day(irregular) == reference
    # 48 A trips, 47 B trips; each: ARRIVED, VOYAGE_DEPARTED, DEPARTED, VOYAGE_ARRIVED,
    # plus A's first ARRIVED of the next day at the end
    assert reference.count(("A", "ARRIVED")) == 49
    assert reference.count(("A", "DEPARTED")) == 48
    assert reference.count(("A", "VOYAGE_ARRIVED")) == 48
    assert reference.count(("B", "VOYAGE_DEPARTED")) == 47
    assert reference[:5] == [
        ("A", "ARRIVED"),
        ("A", "VOYAGE_DEPARTED"),
        ("A", "DEPARTED"),
        ("A", "VOYAGE_ARRIVED"),
        ("B", "ARRIVED"),
    ]


def test_only_one_tick_runs_at_a_time():
    now = at("2026-08-06T00:00:00")
    tenant = boat_tenant(now)
    assert services.tick_lease_acquire(holder="other", now=now, seconds=30)

    assert tick.run(now).ran is False
    assert state_of(BOAT_A) == RouteState.OUT_OF_SERVICE

    assert tick.run(now + dt.timedelta(seconds=31)).ran is True  # the lease expired
    assert status_events(tenant) == [("A", "ARRIVED")]
    assert TickLease.objects.get().expires_at is None  # released


def test_a_reload_with_the_same_configuration_fires_nothing_again():
    tenant = boat_tenant(at("2026-08-06T00:00:00"))
    tick.run(at("2026-08-06T00:06:00"))
    clear_outbox(tenant)
    boat_again = config.parse_scheduled(
        TENANT_UUID,
        [i for i in config.seed_items("routes") if i["id"].startswith("boat-")],
        [v for v in config.seed_items("vessels") if v["id"] == "boat-ellinia-orbis"],
    )
    services.scheduled_configuration_replace(
        tenant=tenant, scheduled=boat_again, now=at("2026-08-06T00:07:00"), source="test"
    )
    tick.run(at("2026-08-06T00:07:00.5"))
    assert emitted(tenant) == []
    assert state_of(BOAT_A) == RouteState.IN_TRANSIT


def test_a_tick_with_nothing_due_costs_a_constant_few_statements():
    """Lease, new-tenant check, due routes, three instance timers, release: the same
    seven statements for one tenant or a hundred."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        boat_tenant(at("2026-08-06T00:00:00"), uuid.uuid4())
    tick.run(at("2026-08-06T00:00:01"))
    with CaptureQueriesContext(connection) as context:
        result = tick.run(at("2026-08-06T00:01:00"))
    statements = [
        q["sql"]
        for q in context.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))
    ]
    assert result.routes_due == 0
    assert len(statements) <= 8, statements


def test_new_tenants_get_the_seed_configuration_on_the_next_tick():
    tenant = new_tenant()
    tick.run(at("2026-08-06T00:00:00.5"))
    assert Route.objects.filter(tenant=tenant).count() == 12
    assert set(Route.objects.filter(tenant=tenant).values_list("state", flat=True)) == {
        RouteState.OPEN_ENTRY,
        RouteState.AWAITING_RETURN,
    }


def test_a_plan_made_before_a_reload_is_not_applied():
    from transport import selectors, transitions

    tenant = boat_tenant(at("2026-08-06T00:00:00"))
    route = Route.objects.get(tenant=tenant, route_id=BOAT_A)
    plan = transitions.plan(
        selectors.route_view(route),
        at("2026-08-06T00:00:01"),
        channels=[],
        occupants=lambda *a: [],
        portal_for=lambda m: 0,
        catch_up_seconds=3600,
    )
    services.scheduled_configuration_recompute(tenant=tenant, now=at("2026-08-06T00:00:00"))
    assert not services.route_advance(
        route=route, expected_marker=route.next_boundary_at, plan=plan
    )
    assert emitted(tenant) == []
