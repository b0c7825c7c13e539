"""What a scheduled route does between its stored state and now.

``plan`` walks the timetable boundaries the route has not processed yet, up to
``now``, evaluates the state at each, and for every change of state builds the
records prescribes: warps of the characters in the staging or en-route maps,
VOYAGE_* per registered channel, ARRIVED / DEPARTED. It runs before the tick's
transaction: the lookups (characters in a map, spawn portals) are the callables it
is given, and a character warped by an earlier transition of the same walk is
counted where it was sent (a catch-up replays departure and arrival in order).

Catch-up: boundaries missed while beat was stopped (or the process down) are
replayed in order, as long as the oldest is at most ``catch_up_seconds`` old;
beyond that the route jumps to its state at ``now`` in one transition.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from project.messaging.errors import Record
from transport import messages, timetable
from transport.timetable import Evaluation, Trip

NIL_UUID = uuid.UUID(int=0)

# (world, channel, map) -> character ids in its nil instance
Occupants = Callable[[int, int, int], list[int]]
PortalFor = Callable[[int], int]


@dataclass(frozen=True)
class RouteView:
    """What planning needs of a stored route."""

    tenant_id: uuid.UUID
    route_id: uuid.UUID
    staging_map_id: int
    en_route_map_ids: list[int]
    destination_map_id: int
    observation_map_id: int
    trips: list[Trip]
    state: str
    next_boundary_at: dt.datetime | None
    # ``timetable.boundaries(trips)`` when known (the tick keeps them parsed).
    points: list[int] | None = None


@dataclass
class Transition:
    at: dt.datetime
    old: str
    new: str
    evaluation: Evaluation


@dataclass
class Plan:
    """The outcome for one route: its final state, the next marker, the records in order."""

    state: str
    next_boundary_at: dt.datetime | None
    transitions: list[Transition] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    state_changed_at: dt.datetime | None = None


def evaluation_points(
    route: RouteView, now: dt.datetime, *, points: Sequence[int], catch_up_seconds: float
) -> list[dt.datetime]:
    """The instants to evaluate at: every unprocessed boundary up to ``now``
    (``points``: the route's ``timetable.boundaries``)."""
    marker = route.next_boundary_at
    if marker is None or marker > now:
        return []
    if (now - marker).total_seconds() > catch_up_seconds:
        return [now]
    instants = [marker]
    while points:
        following = timetable.next_boundary(points, instants[-1])
        if following is None or following > now:
            break
        instants.append(following)
    return instants


def plan(
    route: RouteView,
    now: dt.datetime,
    *,
    channels: Sequence[tuple[int, int]],
    occupants: Occupants,
    portal_for: PortalFor,
    catch_up_seconds: float,
) -> Plan:
    points = timetable.boundaries(route.trips) if route.points is None else route.points
    result = Plan(state=route.state, next_boundary_at=route.next_boundary_at)
    instants = evaluation_points(route, now, points=points, catch_up_seconds=catch_up_seconds)
    if not instants:
        return result
    world = _World(occupants)
    for at in instants:
        evaluation = timetable.evaluate(route.trips, at)
        if evaluation.state != result.state:
            transition = Transition(at, result.state, evaluation.state, evaluation)
            result.transitions.append(transition)
            result.records.extend(
                _effects(route, transition, channels=channels, world=world, portal_for=portal_for)
            )
            result.state = evaluation.state
            result.state_changed_at = at
    result.next_boundary_at = timetable.next_boundary(points, instants[-1]) if points else None
    return result


class _World:
    """Occupancy as looked up once per map and channel, then moved by planned warps.

    A map is looked up only when characters are to leave it; characters sent to a
    map by an earlier warp of the walk are added to what its lookup returns.
    """

    def __init__(self, occupants: Occupants) -> None:
        self._lookup = occupants
        self._looked_up: dict[tuple[int, int, int], list[int]] = {}
        self._arrived: dict[tuple[int, int, int], list[int]] = {}

    def move(self, world: int, channel: int, source: int, target: int) -> list[int]:
        key = (world, channel, source)
        if key not in self._looked_up:
            self._looked_up[key] = list(self._lookup(world, channel, source))
        moved = self._looked_up[key] + self._arrived.pop(key, [])
        self._looked_up[key] = []
        if target != source:
            self._arrived.setdefault((world, channel, target), []).extend(moved)
        return moved


def _effects(
    route: RouteView,
    transition: Transition,
    *,
    channels: Sequence[tuple[int, int]],
    world: _World,
    portal_for: PortalFor,
) -> list[Record]:
    old, new, ev = transition.old, transition.new, transition.evaluation
    records: list[Record] = []

    def warp(source: int, target: int) -> None:
        for world_id, channel_id in channels:
            for character_id in world.move(world_id, channel_id, source, target):
                records.append(
                    Record(
                        messages.COMMAND_TOPIC_CHARACTER,
                        messages.character_key(character_id),
                        messages.change_map(
                            world_id=world_id,
                            character_id=character_id,
                            channel_id=channel_id,
                            map_id=target,
                            instance=NIL_UUID,
                            portal_id=portal_for(target),
                        ),
                    )
                )

    def voyage(event_type: str, trip: Trip, departed_at: dt.datetime) -> None:
        voyage_id = timetable.voyage_id(route.tenant_id, route.route_id, trip.trip_id, departed_at)
        for world_id, channel_id in channels:
            records.append(
                Record(
                    messages.EVENT_TOPIC_TRANSPORT_STATUS,
                    str(voyage_id).encode("ascii"),
                    messages.voyage_status(
                        route_id=route.route_id,
                        event_type=event_type,
                        voyage_id=voyage_id,
                        world_id=world_id,
                        channel_id=channel_id,
                        staging_map_id=route.staging_map_id,
                        en_route_map_ids=route.en_route_map_ids,
                        destination_map_id=route.destination_map_id,
                        observation_map_id=route.observation_map_id,
                        departed_at=departed_at,
                    ),
                )
            )

    def route_event(event_type: str) -> None:
        records.append(
            Record(
                messages.EVENT_TOPIC_TRANSPORT_STATUS,
                str(route.route_id).encode("ascii"),
                messages.route_status(
                    route_id=route.route_id,
                    event_type=event_type,
                    map_id=route.observation_map_id,
                ),
            )
        )

    # A. arrival block
    if old == timetable.IN_TRANSIT or new == timetable.AWAITING_RETURN:
        for map_id in route.en_route_map_ids:
            warp(map_id, route.destination_map_id)
        if ev.arrived_trip is not None and ev.arrived_departed_at is not None:
            voyage(messages.VOYAGE_ARRIVED, ev.arrived_trip, ev.arrived_departed_at)
    # B. entry block
    if new == timetable.OPEN_ENTRY:
        route_event(messages.ARRIVED)
    elif new == timetable.IN_TRANSIT and ev.trip is not None and ev.departed_at is not None:
        if route.en_route_map_ids:
            warp(route.staging_map_id, route.en_route_map_ids[0])
        voyage(messages.VOYAGE_DEPARTED, ev.trip, ev.departed_at)
        route_event(messages.DEPARTED)
    return records
