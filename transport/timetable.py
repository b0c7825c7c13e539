"""The daily timetable and the state machine of scheduled routes, as pure functions.

``compute`` is the timetable (independent routes and shared vessels); ``evaluate``
the state machine. Times of day are integers in microseconds since midnight UTC; the date of a
trip never matters. Nothing here touches the database or the clock.

One deliberate difference (docs/compatibility.md): at the exact departure instant
the trip counts as in transit (``d <= n``), where upstream momentarily evaluates to
the next trip. The tick and REST use the same rule, so they always agree.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

DAY = 86_400_000_000  # microseconds
SECOND = 1_000_000

OUT_OF_SERVICE = "out_of_service"
AWAITING_RETURN = "awaiting_return"
OPEN_ENTRY = "open_entry"
LOCKED_ENTRY = "locked_entry"
IN_TRANSIT = "in_transit"

VOYAGE_NAMESPACE = uuid.UUID("6f3a1b2c-9d4e-4a71-8c55-0b7f2d9e4a10")


@dataclass(frozen=True, slots=True)
class RouteTimes:
    """What the timetable needs of a scheduled route (durations in seconds)."""

    route_id: uuid.UUID
    name: str
    boarding_window: int
    pre_departure: int
    travel: int
    cycle_interval: int


@dataclass(frozen=True, slots=True)
class VesselPair:
    route_a: str
    route_b: str
    turnaround: int  # seconds


@dataclass(frozen=True, slots=True)
class Trip:
    """One trip; times of day in microseconds (``arrival < departure`` crosses midnight)."""

    trip_id: uuid.UUID
    open: int
    closed: int
    departure: int
    arrival: int
    route_id: uuid.UUID | None = None  # None: the route the schedule belongs to

    @property
    def crosses_midnight(self) -> bool:
        return self.arrival < self.departure

    def as_row(self) -> list:
        return [str(self.trip_id), self.open, self.closed, self.departure, self.arrival]

    @classmethod
    def from_row(cls, row: Sequence) -> Trip:
        return cls(uuid.UUID(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4]))


def trip_id_for(route_id: uuid.UUID, seq: int, open_: int) -> uuid.UUID:
    """Derived, not random (upstream: uuid4 per computation), so a restart or an
    unchanged reload keeps trip ids, and with them voyage ids."""
    return uuid.uuid5(route_id, f"trip/{seq}/{open_}")


def voyage_id(
    tenant_id: uuid.UUID, route_id: uuid.UUID, trip_id: uuid.UUID, departed_at: dt.datetime
) -> uuid.UUID:
    """UUIDv5 in a fixed namespace of tenant, route, trip and departure date."""
    name = f"{tenant_id}|{route_id}|{trip_id}|{departed_at.date().isoformat()}"
    return uuid.uuid5(VOYAGE_NAMESPACE, name)


# --- schedule computation ---------------------------------------------------


def _leg(route: RouteTimes, start: int) -> tuple[int, int, int, int]:
    open_ = start
    closed = open_ + route.boarding_window * SECOND
    departure = closed + route.pre_departure * SECOND
    arrival = departure + route.travel * SECOND
    return open_, closed, departure, arrival


def compute(routes: Sequence[RouteTimes], vessels: Sequence[VesselPair]) -> list[list[Trip]]:
    """The day's trips of every route, aligned with ``routes``, in chronological order.

    Independent routes run every ``cycle_interval`` from midnight; vessel routes
    alternate A, B, A … each leg starting ``turnaround`` seconds after the previous
    arrival. A trip is kept only if it arrives strictly before midnight.
    """
    legs: list[list[tuple[int, int, int, int]]] = [[] for _ in routes]
    in_vessels = {name for v in vessels for name in (v.route_a, v.route_b)}
    for index, route in enumerate(routes):
        if route.name in in_vessels or route.cycle_interval <= 0:
            continue
        start = 0
        while start < DAY:
            leg = _leg(route, start)
            if leg[3] < DAY:
                legs[index].append(leg)
            start += route.cycle_interval * SECOND
    for vessel in vessels:
        # If several routes share a name, the last one wins (as upstream).
        a = b = None
        for index, route in enumerate(routes):
            if route.name == vessel.route_a:
                a = index
            elif route.name == vessel.route_b:
                b = index
        if a is None or b is None:
            continue
        start, side = 0, a
        while start < DAY:
            leg = _leg(routes[side], start)
            if leg[3] < DAY:
                legs[side].append(leg)
            start = leg[3] + vessel.turnaround * SECOND
            side = b if side == a else a
    result: list[list[Trip]] = []
    for route, route_legs in zip(routes, legs, strict=True):
        route_legs.sort()
        result.append(
            [
                Trip(trip_id_for(route.route_id, seq, leg[0]), *leg)
                for seq, leg in enumerate(route_legs)
            ]
        )
    return result


# --- state evaluation --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One evaluation at one instant: state, next boundary and trip identities."""

    state: str
    next_state: str = ""
    next_at: dt.datetime | None = None
    trip: Trip | None = None
    departed_at: dt.datetime | None = None
    arrived_trip: Trip | None = None
    arrived_departed_at: dt.datetime | None = None


def time_of_day(instant: dt.datetime) -> int:
    instant = instant.astimezone(dt.UTC)
    return (
        instant.hour * 3600 + instant.minute * 60 + instant.second
    ) * SECOND + instant.microsecond


def _state_of(trip: Trip, n: int) -> str:
    """The state at ``n`` (microseconds into the day) of the trip selected for it: the
    day's boundaries in order; a trip crossing midnight is still in transit before
    its arrival, and again after its departure."""
    if trip.crosses_midnight and n < trip.arrival:
        return IN_TRANSIT
    for boundary, state in (
        (trip.open, AWAITING_RETURN),
        (trip.closed, OPEN_ENTRY),
        (trip.departure, LOCKED_ENTRY),
    ):
        if n < boundary:
            return state
    if trip.crosses_midnight or n < trip.arrival:
        return IN_TRANSIT
    return OUT_OF_SERVICE  # unreachable for a selected trip


def _midnight(instant: dt.datetime) -> dt.datetime:
    instant = instant.astimezone(dt.UTC)
    return instant.replace(hour=0, minute=0, second=0, microsecond=0)


def _on_date(midnight: dt.datetime, tod: int) -> dt.datetime:
    return midnight + dt.timedelta(microseconds=tod)


def _departed_at(midnight: dt.datetime, now: dt.datetime, trip: Trip) -> dt.datetime:
    departed = _on_date(midnight, trip.departure)
    return departed - dt.timedelta(days=1) if departed > now else departed


def evaluate(
    trips: Sequence[Trip], now: dt.datetime, route_id: uuid.UUID | None = None
) -> Evaluation:
    """The route's state at ``now``, with the next transition and trip identities.

    Trips of another route id are ignored (hand-built schedules). In transit
    includes the departure instant itself (see the module docstring).
    """
    n = time_of_day(now)
    in_transit: Trip | None = None
    arrived: Trip | None = None
    future: Trip | None = None
    for trip in trips:
        if route_id is not None and trip.route_id not in (None, route_id):
            continue
        d, a = trip.departure, trip.arrival
        if trip.crosses_midnight:
            travelling = n >= d or n < a
            has_arrived = a <= n < d
        else:
            travelling = d <= n < a
            has_arrived = n >= a
        if travelling and (in_transit is None or d > in_transit.departure):
            in_transit = trip
        if has_arrived and (arrived is None or a > arrived.arrival):
            arrived = trip
        if d > n and (future is None or d < future.departure):
            future = trip
    midnight = _midnight(now)
    arrived_departed = _departed_at(midnight, now, arrived) if arrived else None
    selected = in_transit or future
    if selected is None:
        return Evaluation(
            OUT_OF_SERVICE, arrived_trip=arrived, arrived_departed_at=arrived_departed
        )
    o, c, d, a = selected.open, selected.closed, selected.departure, selected.arrival
    state = _state_of(selected, n)
    next_state, boundary = {
        AWAITING_RETURN: (OPEN_ENTRY, o),
        OPEN_ENTRY: (LOCKED_ENTRY, c),
        LOCKED_ENTRY: (IN_TRANSIT, d),
        IN_TRANSIT: (AWAITING_RETURN, a),
    }.get(state, ("", None))
    next_at = None
    if boundary is not None:
        next_at = _on_date(midnight, boundary)
        if next_at <= now:
            next_at += dt.timedelta(days=1)
    return Evaluation(
        state,
        next_state=next_state,
        next_at=next_at,
        trip=selected,
        departed_at=_departed_at(midnight, now, selected),
        arrived_trip=arrived,
        arrived_departed_at=arrived_departed,
    )


def boundaries(trips: Sequence[Trip]) -> list[int]:
    """Every time of day at which the evaluation can change: the trips' four
    instants and midnight (where every trip becomes "future" again)."""
    if not trips:
        return []
    points = {0}
    for trip in trips:
        points.update((trip.open, trip.closed, trip.departure, trip.arrival))
    return sorted(p % DAY for p in points)


def next_boundary(points: Sequence[int], after: dt.datetime) -> dt.datetime | None:
    """The first boundary instant strictly after ``after`` (within the next 24 h)."""
    if not points:
        return None
    n = time_of_day(after)
    midnight = _midnight(after)
    for point in points:
        if point > n:
            return _on_date(midnight, point)
    return _on_date(midnight + dt.timedelta(days=1), points[0])
