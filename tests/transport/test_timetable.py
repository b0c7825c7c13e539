"""The timetable and the state machine against upstream's worked examples."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from tests.transport.support import TENANT_UUID, at
from transport import config, timetable
from transport.timetable import (
    AWAITING_RETURN,
    IN_TRANSIT,
    LOCKED_ENTRY,
    OPEN_ENTRY,
    OUT_OF_SERVICE,
    SECOND,
    RouteTimes,
    Trip,
    VesselPair,
)

MIN = 60


def hms(text: str) -> int:
    h, m, s = (int(p) for p in text.split(":"))
    return (h * 3600 + m * 60 + s) * SECOND


def legs(trips: list[Trip]) -> list[tuple[str, str, str, str]]:
    def fmt(us: int) -> str:
        s = us // SECOND
        return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"

    return [(fmt(t.open), fmt(t.closed), fmt(t.departure), fmt(t.arrival)) for t in trips]


def route(name: str, board: int, pre: int, travel: int, cycle: int) -> RouteTimes:
    return RouteTimes(
        uuid.uuid5(TENANT_UUID, name), name, board * MIN, pre * MIN, travel * MIN, cycle * MIN
    )


def seed_schedule() -> dict[str, list[Trip]]:
    scheduled = config.parse_scheduled(
        TENANT_UUID, config.seed_items("routes"), config.seed_items("vessels")
    )
    times = [
        RouteTimes(
            r.route_id, r.name, r.boarding_window, r.pre_departure, r.travel, r.cycle_interval
        )
        for r in scheduled.routes
    ]
    pairs = [VesselPair(v.route_a, v.route_b, v.turnaround) for v in scheduled.vessels]
    return {
        r.name: trips
        for r, trips in zip(scheduled.routes, timetable.compute(times, pairs), strict=True)
    }


# --- the timetable --------------------------------------------------------------------


def test_independent_route_runs_every_cycle_and_drops_the_trip_arriving_at_midnight():
    (trips,) = timetable.compute([route("r", 4, 1, 10, 15)], [])
    table = legs(trips)
    assert len(table) == 95
    assert table[:4] == [
        ("00:00:00", "00:04:00", "00:05:00", "00:15:00"),
        ("00:15:00", "00:19:00", "00:20:00", "00:30:00"),
        ("00:30:00", "00:34:00", "00:35:00", "00:45:00"),
        ("00:45:00", "00:49:00", "00:50:00", "01:00:00"),
    ]
    assert table[93:] == [
        ("23:15:00", "23:19:00", "23:20:00", "23:30:00"),
        ("23:30:00", "23:34:00", "23:35:00", "23:45:00"),
    ]


def test_the_seeded_boat_vessel_alternates_with_five_seconds_of_turnaround():
    schedule = seed_schedule()
    a, b = legs(schedule["boat-ellinia-orbis"]), legs(schedule["boat-orbis-ellinia"])
    assert (len(a), len(b)) == (48, 47)
    assert a[:3] == [
        ("00:00:00", "00:04:00", "00:05:00", "00:15:00"),
        ("00:30:10", "00:34:10", "00:35:10", "00:45:10"),
        ("01:00:20", "01:04:20", "01:05:20", "01:15:20"),
    ]
    assert b[:2] == [
        ("00:15:05", "00:19:05", "00:20:05", "00:30:05"),
        ("00:45:15", "00:49:15", "00:50:15", "01:00:15"),
    ]
    assert a[-2:] == [
        ("23:07:40", "23:11:40", "23:12:40", "23:22:40"),
        ("23:37:50", "23:41:50", "23:42:50", "23:52:50"),
    ]
    assert b[-1] == ("23:22:45", "23:26:45", "23:27:45", "23:37:45")
    # leg n (0-based, both sides) opens at n * 905 s
    opens = sorted(t.open for t in schedule["boat-ellinia-orbis"] + schedule["boat-orbis-ellinia"])
    assert opens == [n * 905 * SECOND for n in range(95)]


@pytest.mark.parametrize(
    ("a", "b", "count_a", "count_b", "spacing"),
    [
        ("cabin-leafre-orbis", "cabin-orbis-leafre", 71, 71, 605),
        ("genie-ariant-orbis", "genie-orbis-ariant", 71, 71, 605),
        ("train-ludibrium-orbis", "train-orbis-ludibrium", 71, 71, 605),
        ("airplane-cbd-kc", "airplane-kc-cbd", 118, 118, 365),
        ("subway-kc-nlc", "subway-nlc-kc", 144, 143, 301),
    ],
)
def test_the_other_seeded_vessels(a, b, count_a, count_b, spacing):
    schedule = seed_schedule()
    assert (len(schedule[a]), len(schedule[b])) == (count_a, count_b)
    opens = sorted(t.open for t in schedule[a] + schedule[b])
    assert opens == [n * spacing * SECOND for n in range(count_a + count_b)]


def test_the_subway_first_legs_have_no_pre_departure():
    schedule = seed_schedule()
    assert legs(schedule["subway-kc-nlc"])[0] == ("00:00:00", "00:01:00", "00:01:00", "00:05:00")
    assert legs(schedule["subway-nlc-kc"])[0] == ("00:05:01", "00:06:01", "00:06:01", "00:10:01")


def test_upstream_scheduler_case_with_different_legs():
    a = RouteTimes(uuid.uuid4(), "a", 5 * MIN, 2 * MIN, 10 * MIN, 30 * MIN)
    b = RouteTimes(uuid.uuid4(), "b", 6 * MIN, 3 * MIN, 15 * MIN, 30 * MIN)
    trips_a, trips_b = timetable.compute([a, b], [VesselPair("a", "b", 5 * MIN)])
    assert legs(trips_a)[:2] == [
        ("00:00:00", "00:05:00", "00:07:00", "00:17:00"),
        ("00:51:00", "00:56:00", "00:58:00", "01:08:00"),
    ]
    assert legs(trips_b)[0] == ("00:22:00", "00:28:00", "00:31:00", "00:46:00")
    assert len(trips_a) + len(trips_b) == 56
    assert legs(trips_b)[-1] == ("23:19:00", "23:25:00", "23:28:00", "23:43:00")


def test_a_vessel_naming_a_missing_route_leaves_its_named_route_without_trips():
    trips_a, trips_b = timetable.compute(
        [route("a", 4, 1, 10, 15), route("b", 4, 1, 10, 15)], [VesselPair("a", "zzz", 5)]
    )
    assert trips_a == []  # excluded from independent scheduling, and the vessel has no B
    assert len(trips_b) == 95  # not in any vessel: independent


def test_trip_ids_are_derived_and_stable_across_computations():
    first = timetable.compute([route("r", 4, 1, 10, 15)], [])
    again = timetable.compute([route("r", 4, 1, 10, 15)], [])
    assert first == again
    assert len({t.trip_id for t in first[0]}) == 95


def test_voyage_id_of_the_spec_example():
    assert timetable.voyage_id(
        TENANT_UUID,
        uuid.UUID("617b8995-12ad-54de-a331-d39a07c332a8"),
        uuid.UUID("5b0c1e6e-8a55-4c1e-9f00-3a1c2b7d9e01"),
        at("2026-08-06T00:20:05"),
    ) == uuid.UUID("e8e04738-b4b1-5ccd-9ec6-e4e096adbd54")


def test_route_ids_of_the_spec_examples():
    scheduled = config.parse_scheduled(
        TENANT_UUID, config.seed_items("routes"), config.seed_items("vessels")
    )
    ids = {r.slug: str(r.route_id) for r in scheduled.routes}
    assert ids["boat-ellinia-orbis"] == "388b7a6a-77e7-5367-8170-d95a4a1a5741"
    assert ids["boat-orbis-ellinia"] == "617b8995-12ad-54de-a331-d39a07c332a8"
    instance = {
        r.slug: str(r.route_id)
        for r in config.parse_instance_routes(TENANT_UUID, config.seed_items("instance-routes"))
    }
    assert instance["kerning-train-to-square"] == "6886431a-c4ba-57a9-98f7-c9fdf7df6bb9"
    assert instance["temple-of-time-flight"] == "c6a00da6-8744-577e-8b15-7efaf28fa74d"


# --- the state machine ----------------------------------------------------------------

ONE = [Trip(uuid.UUID(int=1), hms("00:00:00"), hms("00:04:00"), hms("00:05:00"), hms("00:15:00"))]
TWO = [
    *ONE,
    Trip(uuid.UUID(int=2), hms("00:30:00"), hms("00:34:00"), hms("00:35:00"), hms("00:45:00")),
]
US = dt.timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("instant", "state", "next_state", "next_at"),
    [
        ("2026-08-06T00:00:00", OPEN_ENTRY, LOCKED_ENTRY, "2026-08-06T00:04:00"),
        ("2026-08-06T00:03:59.999999", OPEN_ENTRY, LOCKED_ENTRY, "2026-08-06T00:04:00"),
        ("2026-08-06T00:04:00", LOCKED_ENTRY, IN_TRANSIT, "2026-08-06T00:05:00"),
        ("2026-08-06T00:04:59.999999", LOCKED_ENTRY, IN_TRANSIT, "2026-08-06T00:05:00"),
        # the exact departure instant is in transit (deliberate; upstream: next trip)
        ("2026-08-06T00:05:00", IN_TRANSIT, AWAITING_RETURN, "2026-08-06T00:15:00"),
        ("2026-08-06T00:05:00.000001", IN_TRANSIT, AWAITING_RETURN, "2026-08-06T00:15:00"),
        ("2026-08-06T00:14:59.999999", IN_TRANSIT, AWAITING_RETURN, "2026-08-06T00:15:00"),
        ("2026-08-06T00:15:00", AWAITING_RETURN, OPEN_ENTRY, "2026-08-06T00:30:00"),
        ("2026-08-06T00:44:59", IN_TRANSIT, AWAITING_RETURN, "2026-08-06T00:45:00"),
        ("2026-08-06T00:45:00", OUT_OF_SERVICE, "", None),
        ("2026-08-06T23:59:59.999999", OUT_OF_SERVICE, "", None),
    ],
)
def test_state_at_and_around_every_boundary(instant, state, next_state, next_at):
    ev = timetable.evaluate(TWO, at(instant))
    assert (ev.state, ev.next_state) == (state, next_state)
    assert ev.next_at == (at(next_at) if next_at else None)


def test_the_date_of_trip_rows_and_of_now_does_not_matter():
    assert timetable.evaluate(TWO, at("2023-01-01T00:20:00")).state == AWAITING_RETURN
    assert timetable.evaluate(TWO, at("2031-12-31T00:20:00")).state == AWAITING_RETURN


def test_departed_and_arrived_identities():
    ev = timetable.evaluate(TWO, at("2026-08-06T00:40:00"))
    assert ev.trip.trip_id == uuid.UUID(int=2)
    assert ev.departed_at == at("2026-08-06T00:35:00")
    assert ev.arrived_trip.trip_id == uuid.UUID(int=1)
    assert ev.arrived_departed_at == at("2026-08-06T00:05:00")
    assert timetable.evaluate(TWO, at("2026-08-06T00:01:00")).arrived_trip is None


CROSSING = [
    Trip(uuid.UUID(int=9), hms("23:40:00"), hms("23:44:00"), hms("23:50:00"), hms("00:20:00"))
]


@pytest.mark.parametrize(
    ("instant", "state", "next_at"),
    [
        ("2026-08-06T23:30:00", AWAITING_RETURN, "2026-08-06T23:40:00"),
        ("2026-08-06T23:45:00", LOCKED_ENTRY, "2026-08-06T23:50:00"),
        ("2026-08-06T23:50:00", IN_TRANSIT, "2026-08-07T00:20:00"),
        ("2026-08-06T23:59:59", IN_TRANSIT, "2026-08-07T00:20:00"),
        ("2026-08-07T00:00:00", IN_TRANSIT, "2026-08-07T00:20:00"),
        ("2026-08-07T00:10:00", IN_TRANSIT, "2026-08-07T00:20:00"),
        ("2026-08-07T00:20:00", AWAITING_RETURN, "2026-08-07T23:40:00"),
    ],
)
def test_a_trip_crossing_midnight(instant, state, next_at):
    ev = timetable.evaluate(CROSSING, at(instant))
    assert ev.state == state
    assert ev.next_at == at(next_at)


def test_a_midnight_crossing_voyage_departed_the_previous_day():
    ev = timetable.evaluate(CROSSING, at("2026-08-07T00:10:00"))
    assert ev.departed_at == at("2026-08-06T23:50:00")
    arrived = timetable.evaluate(CROSSING, at("2026-08-07T00:30:00"))
    assert arrived.arrived_departed_at == at("2026-08-06T23:50:00")
    # departure and arrival name the same voyage
    route_id = uuid.uuid4()
    assert timetable.voyage_id(TENANT_UUID, route_id, ev.trip.trip_id, ev.departed_at) == (
        timetable.voyage_id(
            TENANT_UUID, route_id, arrived.arrived_trip.trip_id, arrived.arrived_departed_at
        )
    )


def test_trips_of_another_route_are_ignored():
    mine, other = uuid.uuid4(), uuid.uuid4()
    trips = [
        Trip(
            uuid.UUID(int=1),
            hms("00:00:00"),
            hms("00:04:00"),
            hms("00:05:00"),
            hms("00:15:00"),
            route_id=other,
        )
    ]
    assert timetable.evaluate(trips, at("2026-08-06T00:01:00"), route_id=mine).state == (
        OUT_OF_SERVICE
    )


def test_no_pre_departure_goes_from_open_entry_straight_to_in_transit():
    subway = seed_schedule()["subway-kc-nlc"]
    assert timetable.evaluate(subway, at("2026-08-06T00:00:59.9")).state == OPEN_ENTRY
    assert timetable.evaluate(subway, at("2026-08-06T00:01:00")).state == IN_TRANSIT


def test_boundaries_include_midnight_and_next_boundary_wraps():
    points = timetable.boundaries(ONE)
    assert points == [0, hms("00:04:00"), hms("00:05:00"), hms("00:15:00")]
    assert timetable.next_boundary(points, at("2026-08-06T00:04:00")) == at("2026-08-06T00:05:00")
    assert timetable.next_boundary(points, at("2026-08-06T00:20:00")) == at("2026-08-07T00:00:00")
    assert timetable.next_boundary([], at("2026-08-06T00:20:00")) is None
