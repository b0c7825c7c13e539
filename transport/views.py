"""REST of transport: routes with their state and timetable, instance routes,
instance status, and START (run in the request, as upstream: 204 or 400).

State, next state and next instant come from one evaluation at the request's
instant (``clock.now()``), so REST and the tick agree.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from django.db import transaction
from django.http import HttpResponse
from marshmallow import ValidationError

from project import rest
from project.messaging import bus, wire
from project.messaging.schemas import U8, U32, UUID, GoSchema, Int, List, Str, Time
from transport import clock, lookups, selectors, services, timetable
from transport.models import Instance, InstanceRoute, Route

logger = logging.getLogger(__name__)

NANOS = 1_000_000_000
_UUID = UUID()


# --- the resources as rendered, for the API document (docs/api.md) ----------------------


def _nanoseconds() -> Int:
    return Int(64, signed=True, metadata={"description": "nanoseconds (a Go duration)"})


class TripAttributes(GoSchema):
    boardingOpen = Time()
    boardingClosed = Time()
    departure = Time()
    arrival = Time()


class RouteAttributes(GoSchema):
    """``voyageId`` only while ``IN_TRANSIT``; ``nextTransitionAt`` is ``""`` without one."""

    name = Str()
    startMapId = U32()
    stagingMapId = U32()
    enRouteMapIds = List(U32())
    destinationMapId = U32()
    observationMapId = U32()
    state = Str()
    cycleInterval = _nanoseconds()
    boardingWindowSeconds = U32()
    preDepartureSeconds = U32()
    travelDurationSeconds = U32()
    cycleIntervalSeconds = U32()
    nextTransitionAt = Str()
    nextState = Str()
    voyageId = UUID(metadata={"optional": True})


class InstanceRouteAttributes(GoSchema):
    name = Str()
    startMapId = U32()
    transitMapIds = List(U32())
    destinationMapId = U32()
    capacity = U32()
    boardingWindow = _nanoseconds()
    travelDuration = _nanoseconds()
    boardingWindowSeconds = U32()
    travelDurationSeconds = U32()
    effectItemIds = List(U32())
    forcedReturnMapId = U32()


class InstanceStatusAttributes(GoSchema):
    routeId = UUID()
    state = Str()
    characters = U32()
    boardingUntil = Time()
    arrivalAt = Time()
    createdAt = Time()


TRIPS = rest.ResourceType("trip-schedule", TripAttributes, id_format="uuid")
ROUTES = rest.ResourceType("routes", RouteAttributes, {"schedule": TRIPS}, id_format="uuid")
INSTANCE_ROUTES = rest.ResourceType("instance-routes", InstanceRouteAttributes, id_format="uuid")
INSTANCE_STATUS = rest.ResourceType("instance-status", InstanceStatusAttributes, id_format="uuid")


def _configured(request: rest.Request) -> None:
    """A tenant's first command (START) finds the default (seed) configuration in
    place, as upstream's seeded tenants service would have it. Reads load nothing:
    they answer from what exists (a tenant never configured has no routes, as
    upstream's registry of such a tenant is empty)."""
    services.tenant_configuration_ensure(
        tenant=request.tenant, now=clock.now(), seed=lookups.seed_is_default()
    )


def parse_uuid(text: str) -> uuid.UUID:
    """Go's ``uuid.Parse`` forms; anything else is a 400 with an empty body."""
    try:
        return _UUID.deserialize(text)
    except ValidationError:
        raise rest.BadRequest() from None


def _on(midnight: dt.datetime, tod: int) -> str:
    return wire.go_time(midnight + dt.timedelta(microseconds=tod))


def trip_resource(trip: timetable.Trip, schedule_date: dt.date | None) -> rest.Resource:
    """A trip row; its timestamps carry the date the schedule was computed on."""
    day = schedule_date or dt.date(1970, 1, 1)
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return rest.Resource(
        "trip-schedule",
        str(trip.trip_id),
        {
            "boardingOpen": _on(midnight, trip.open),
            "boardingClosed": _on(midnight, trip.closed),
            "departure": _on(midnight, trip.departure),
            "arrival": _on(midnight, trip.arrival),
        },
    )


def route_resource(route: Route, now: dt.datetime, *, with_schedule: bool) -> rest.Resource:
    trips = selectors.trips_of(route)
    ev = timetable.evaluate(trips, now)
    attributes = {
        "name": route.name,
        "startMapId": route.start_map_id,
        "stagingMapId": route.staging_map_id,
        "enRouteMapIds": list(route.en_route_map_ids),
        "destinationMapId": route.destination_map_id,
        "observationMapId": route.observation_map_id,
        "state": ev.state,
        "cycleInterval": route.cycle_interval_seconds * NANOS,
        "boardingWindowSeconds": route.boarding_window_seconds,
        "preDepartureSeconds": route.pre_departure_seconds,
        "travelDurationSeconds": route.travel_seconds,
        "cycleIntervalSeconds": route.cycle_interval_seconds,
        "nextTransitionAt": wire.go_time(ev.next_at) if ev.next_at else "",
        "nextState": ev.next_state,
    }
    if ev.state == timetable.IN_TRANSIT and ev.trip is not None and ev.departed_at is not None:
        attributes["voyageId"] = str(
            timetable.voyage_id(route.tenant.uuid, route.route_id, ev.trip.trip_id, ev.departed_at)
        )
    schedule = [trip_resource(trip, route.schedule_date) for trip in trips] if with_schedule else []
    return rest.Resource(
        "routes", str(route.route_id), attributes, relationships={"schedule": schedule}
    )


def routes_list(request: rest.Request) -> HttpResponse:
    """``GET /api/transports/routes``: paging checked first, then ``filter[startMapId]``
    (the first route of that start map, or none)."""
    rest.Page.from_request(request, default_size=50, max_size=250)
    include = {part for part in rest.query_value(request, "include").split(",") if part}
    routes = selectors.routes_of(tenant=request.tenant).select_related("tenant")
    start_map = rest.query_value(request, "filter[startMapId]")
    if start_map:
        match = selectors.route_by_start_map(
            tenant=request.tenant, map_id=rest.parse_u32(start_map)
        )
        chosen = [match] if match is not None else []
    else:
        chosen = list(routes)
    chosen.sort(key=lambda route: str(route.route_id))
    now = clock.now()
    return rest.collection(
        request,
        chosen,
        lambda route: route_resource(route, now, with_schedule="schedule" in include),
    )


def route_get(request: rest.Request, routeId: str) -> HttpResponse:
    """One route with its schedule always included; unknown → 500 (as upstream)."""
    route = rest.found(
        selectors.route_get(tenant=request.tenant, route_id=parse_uuid(routeId)),
        rest.HttpError(500),
    )
    return rest.single(request, route_resource(route, clock.now(), with_schedule=True))


def route_schedule(request: rest.Request, routeId: str) -> HttpResponse:
    """``GET /api/routes/{id}/schedule`` (and ``/relationships/schedule``): the route's
    trips, chronological, paged. A route document's ``schedule`` links point here, as
    upstream's api2go writes them (type name, not the transports path); upstream does
    not route them (404), so here they answer what they name (docs/compatibility.md).
    Unknown route → 404."""
    route = rest.found(selectors.route_get(tenant=request.tenant, route_id=parse_uuid(routeId)))
    trips = selectors.trips_of(route)
    return rest.collection(request, trips, lambda trip: trip_resource(trip, route.schedule_date))


def instance_route_resource(route: InstanceRoute) -> rest.Resource:
    return rest.Resource(
        "instance-routes",
        str(route.route_id),
        {
            "name": route.name,
            "startMapId": route.start_map_id,
            "transitMapIds": list(route.transit_map_ids),
            "destinationMapId": route.destination_map_id,
            "capacity": route.capacity,
            "boardingWindow": route.boarding_window_seconds * NANOS,
            "travelDuration": route.travel_seconds * NANOS,
            "boardingWindowSeconds": route.boarding_window_seconds,
            "travelDurationSeconds": route.travel_seconds,
            "effectItemIds": list(route.effect_item_ids),
            "forcedReturnMapId": route.forced_return_map_id,
        },
    )


def instance_routes_list(request: rest.Request) -> HttpResponse:
    routes = selectors.instance_routes_of(tenant=request.tenant).order_by("route_id")
    return rest.collection(request, routes, instance_route_resource)


def instance_route_get(request: rest.Request, routeId: str) -> HttpResponse:
    route = rest.found(
        selectors.instance_route_get(tenant=request.tenant, route_id=parse_uuid(routeId))
    )
    return rest.single(request, instance_route_resource(route))


def _seconds(instant: dt.datetime) -> str:
    return wire.go_time(instant.replace(microsecond=0))


def instance_status_resource(instance: Instance) -> rest.Resource:
    return rest.Resource(
        "instance-status",
        str(instance.instance_id),
        {
            "routeId": str(instance.route_id),
            "state": instance.state,
            "characters": instance.character_count,
            "boardingUntil": _seconds(instance.boarding_until),
            "arrivalAt": _seconds(instance.arrival_at),
            "createdAt": _seconds(instance.created_at),
        },
    )


def instance_route_status(request: rest.Request, routeId: str) -> HttpResponse:
    """Live instances of the route (no check that it exists)."""
    instances = selectors.instances_of_route(tenant=request.tenant, route_id=parse_uuid(routeId))
    return rest.collection(request, instances, instance_status_resource)


class StartAttributes(GoSchema):
    characterId = U32()
    worldId = U8()
    channelId = U8()


def instance_route_start(request: rest.Request, routeId: str) -> HttpResponse:
    """START as upstream: the character boards in this request, whose
    transaction writes the effects, CHANGE_MAP and STARTED to the outbox; 204. A
    refusal (already in transport, unknown route) changes nothing and is a 400
    with an empty body, as an unparsable body or a bad route id."""
    body = rest.read_body(request, "start-transport", StartAttributes, integer_id=False)
    route_id = parse_uuid(routeId)
    attributes = body.attributes
    # The tenant's row and seed configuration commit only with an accepted START;
    # a refusal (``StartRefused``) is answered by ``rest.route``.
    with bus.caused_by(request.cause), transaction.atomic():
        _configured(request)
        services.instance_transport_start(
            tenant=request.tenant,
            character_id=attributes["characterId"],
            world_id=attributes["worldId"],
            channel_id=attributes["channelId"],
            route_id=route_id,
            now=clock.now(),
        )
    return rest.no_content()
