"""The tick with an injected clock: transitions, their records, exactly once, catch-up."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from project.messaging import wire
from tests.support import clear_outbox, given_character, new_tenant, sent_by
from tests.transport.support import TENANT_UUID, at, types
from transport import config, messages, services, tick, timetable
from transport.models import Route, RouteState, TickLease

pytestmark = pytest.mark.django_db

NIL = str(uuid.UUID(int=0))
BOAT_A = uuid.UUID("388b7a6a-77e7-5367-8170-d95a4a1a5741")
BOAT_B = uuid.UUID("617b8995-12ad-54de-a331-d39a07c332a8")
STATUS = messages.EVENT_TOPIC_TRANSPORT_STATUS
CHARACTER = messages.COMMAND_TOPIC_CHARACTER


def boat_tenant(now: dt.datetime, tenant_uuid: uuid.UUID = TENANT_UUID):
    """A tenant (the example tenant by default) with the seeded boat pair only."""
    tenant = new_tenant(tenant_uuid=tenant_uuid)
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
    """An online character in a map of the local directory (the maps stand-in)."""
    given_character(tenant.key, character_id, channel_id=channel, map_id=map_id, online=True)


def state_of(route_id: uuid.UUID) -> str:
    return Route.objects.get(route_id=route_id).state


def status_events(tenant) -> list[tuple[str, str]]:
    """(route name, type) of the status topic, ARRIVED/DEPARTED and VOYAGE_* alike."""
    names = {
        str(route.route_id): "A" if route.name == "boat-ellinia-orbis" else "B"
        for route in Route.objects.filter(tenant=tenant)
    }
    return [(names[v["routeId"]], v["type"]) for v in (e[2] for e in sent_by(tenant, STATUS))]


def test_startup_at_midnight_opens_a_and_b_waits_silently():
    now = at("2026-08-06T00:00:00.2")
    tenant = boat_tenant(now)
    services.channel_register(tenant=tenant, world_id=0, channel_id=1)

    result = tick.run(now)

    assert result.ran and result.transitions == 2
    assert state_of(BOAT_A) == RouteState.OPEN_ENTRY
    assert state_of(BOAT_B) == RouteState.AWAITING_RETURN
    ((topic, key, value),) = sent_by(tenant)
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
    assert sent_by(tenant) == []
    assert state_of(BOAT_A) == RouteState.LOCKED_ENTRY

    tick.run(at("2026-08-06T00:05:00.001"))
    warps = sent_by(tenant, CHARACTER)
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
    departed = sent_by(tenant, STATUS)
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
        (v["characterId"], v["body"]["mapId"]) for v in (e[2] for e in sent_by(tenant, CHARACTER))
    ] == [(1001, 200000100), (1002, 200000100)]
    arrived = sent_by(tenant, STATUS)
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
    assert [v["body"]["mapId"] for v in (e[2] for e in sent_by(tenant, CHARACTER))] == [
        200090010,
        200000100,
    ]
    voyage_keys = {
        k
        for _, k, v in sent_by(tenant, STATUS)
        if v["routeId"] == str(BOAT_A) and v["type"].startswith("VOYAGE")
    }
    assert len(voyage_keys) == 1
    assert state_of(BOAT_A) == RouteState.AWAITING_RETURN
    assert state_of(BOAT_B) == RouteState.IN_TRANSIT

    clear_outbox(tenant)
    tick.run(at("2026-08-06T00:21:00"))  # a second tick after the restart: nothing again
    assert sent_by(tenant) == []


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
    """A whole day of the boat pair, with a rider waiting in A's staging map and one
    in B's en-route map: ticked at every boundary, every record is the one the
    timetable predicts, in order; ticked at irregular 1 to 611 s gaps with duplicate
    ticks (a second beat, a restart), the records are the same."""
    start = at("2026-08-06T00:00:00")
    end = start + dt.timedelta(days=1)

    def run_day(instants) -> list[tuple]:
        tenant = boat_tenant(start, uuid.uuid4())
        services.channel_register(tenant=tenant, world_id=0, channel_id=1)
        place(tenant, 1, 101000301)  # A's staging map: boards every A departure
        place(tenant, 2, 200090000)  # B's first en-route map: lands at every B arrival
        names = {
            str(r.route_id): "A" if r.name == "boat-ellinia-orbis" else "B"
            for r in Route.objects.filter(tenant=tenant)
        }
        for instant in instants:
            tick.run(instant)
        records = []
        for topic, _, value in sent_by(tenant):
            if topic == CHARACTER:
                records.append(("warp", value["characterId"], value["body"]["mapId"]))
            else:
                body = value["body"]
                records.append((names[value["routeId"]], value["type"], body.get("departedAt", "")))
        return records

    legs, trips = [], []  # (open, route, departure, arrival) of the 95 legs, in order
    reference_tenant = boat_tenant(start, uuid.uuid4())
    for route in Route.objects.filter(tenant=reference_tenant):
        side = "A" if route.name == "boat-ellinia-orbis" else "B"
        for row in route.schedule:
            trip = timetable.Trip.from_row(row)
            trips.append(trip)
            legs.append((trip.open, side, trip.departure, trip.arrival))
    legs.sort()
    assert len(legs) == 95

    def instant(us: int) -> str:
        return wire.go_time(start + dt.timedelta(microseconds=us))

    expected: list[tuple] = [("A", "ARRIVED", ""), ("warp", 2, 101000300)]  # midnight
    for open_, side, departure, _arrival in legs:
        if open_ != 0:  # A's first leg opened at midnight, above
            expected.append((side, "ARRIVED", ""))
        if side == "A":
            expected.append(("warp", 1, 200090010))
        expected += [(side, "VOYAGE_DEPARTED", instant(departure)), (side, "DEPARTED", "")]
        if side == "B":
            expected.append(("warp", 2, 101000300))
        expected.append((side, "VOYAGE_ARRIVED", instant(departure)))
    expected += [("A", "ARRIVED", ""), ("warp", 2, 101000300)]  # the next midnight

    points = timetable.boundaries(trips)
    every_boundary = [start + dt.timedelta(microseconds=p) for p in points] + [end]
    irregular, t, gaps = [], start, [37, 611, 120, 1, 299, 45]
    while t <= end:
        irregular += [t, t]
        t += dt.timedelta(seconds=gaps[len(irregular) % len(gaps)])
    irregular.append(end)

    reference = run_day(every_boundary)
    assert reference == expected
    assert run_day(irregular) == expected


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
    assert sent_by(tenant) == []
    assert state_of(BOAT_A) == RouteState.IN_TRANSIT


def test_a_tick_with_nothing_due_costs_a_constant_few_statements():
    """Three indexed reads (a route due? an instance timer? a tenant to configure?)
    and no write at all, for one tenant or a hundred."""
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
    assert len(statements) == 3, statements
    assert not any(q.startswith(("UPDATE", "INSERT", "BEGIN")) for q in statements)


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
    assert sent_by(tenant) == []


def test_an_arrival_that_is_also_the_next_boarding_runs_both_blocks():
    """Independent route (4/1/10, every 15 min): 00:15 ends trip 1 and opens trip 2."""
    tenant = new_tenant()
    route = config.RouteConfig(
        route_id=uuid.uuid4(),
        slug="r",
        name="r",
        start_map_id=10,
        staging_map_id=11,
        en_route_map_ids=[12, 13],
        destination_map_id=14,
        observation_map_id=10,
        boarding_window=240,
        pre_departure=60,
        travel=600,
        cycle_interval=900,
    )
    services.scheduled_configuration_replace(
        tenant=tenant,
        scheduled=config.ScheduledConfig([route], []),
        now=at("2026-08-06T00:10:00"),
        source="test",
    )
    services.channel_register(tenant=tenant, world_id=0, channel_id=1)
    tick.run(at("2026-08-06T00:10:00"))  # in transit
    place(tenant, 5, 13)  # on board, second en-route map
    clear_outbox(tenant)

    tick.run(at("2026-08-06T00:15:00.2"))

    assert [(t, v["type"]) for t, _, v in sent_by(tenant)] == [
        (CHARACTER, "CHANGE_MAP"),
        (STATUS, "VOYAGE_ARRIVED"),
        (STATUS, "ARRIVED"),
    ]
    assert sent_by(tenant, CHARACTER)[0][2]["body"]["mapId"] == 14
    assert Route.objects.get(tenant=tenant).state == RouteState.OPEN_ENTRY
