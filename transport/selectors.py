"""Reads of transport state for the tick, handlers, REST and the admin."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from django.db.models import Count, Q, QuerySet

from project.tenancy.models import Tenant
from transport import timetable
from transport.models import (
    Channel,
    Instance,
    InstanceCharacter,
    InstanceRoute,
    InstanceState,
    Route,
    TenantConfiguration,
    Vessel,
)
from transport.transitions import RouteView


def trips_of(route: Route) -> list[timetable.Trip]:
    return [timetable.Trip.from_row(row) for row in route.schedule]


def route_view(
    route: Route,
    *,
    trips: list[timetable.Trip] | None = None,
    points: list[int] | None = None,
) -> RouteView:
    """What planning needs of ``route``; ``trips`` and ``points`` (its boundaries)
    when the caller has them parsed already (the tick's routes are read without
    their schedules)."""
    return RouteView(
        tenant_id=route.tenant.uuid,
        route_id=route.route_id,
        staging_map_id=route.staging_map_id,
        en_route_map_ids=list(route.en_route_map_ids),
        destination_map_id=route.destination_map_id,
        observation_map_id=route.observation_map_id,
        trips=trips_of(route) if trips is None else trips,
        state=route.state,
        next_boundary_at=route.next_boundary_at,
        points=points,
    )


def routes_due(*, now: dt.datetime) -> list[Route]:
    """Routes of every tenant with a boundary not yet processed at ``now``, without
    their schedules (``schedules`` reads those): the tick's only query when nothing
    is due (an index range scan)."""
    return list(
        Route.objects.filter(next_boundary_at__lte=now)
        .select_related("tenant")
        .defer("schedule")
        .order_by("next_boundary_at", "id")
    )


def schedules(*, route_pks: Iterable[int]) -> list[tuple[int, int, list]]:
    """(pk, version, schedule rows) of the routes, in one query."""
    return list(
        Route.objects.filter(pk__in=list(route_pks)).values_list("pk", "version", "schedule")
    )


def routes_due_exist(*, now: dt.datetime) -> bool:
    return Route.objects.filter(next_boundary_at__lte=now).exists()


def unconfigured_tenants_exist() -> bool:
    return Tenant.objects.filter(transport_configuration__isnull=True).exists()


def instance_timers_due(*, now: dt.datetime) -> bool:
    """Whether any instance must change at ``now`` (boarding closed, arrived, stuck):
    one read, so an idle tick opens no write transaction for the timers."""
    return Instance.objects.filter(
        Q(state=InstanceState.BOARDING, boarding_until__lt=now)
        | Q(state=InstanceState.IN_TRANSIT, arrival_at__lt=now)
        | Q(stuck_at__lt=now)
    ).exists()


def channels_by_tenant(*, tenant_ids: Iterable[int]) -> dict[int, list[tuple[int, int]]]:
    """The registered (world, channel) pairs of each tenant, ordered, in one query
    for all the tenants of the tick's due routes; a tenant with none is absent."""
    result: dict[int, list[tuple[int, int]]] = {}
    for tenant_id, world_id, channel_id in (
        Channel.objects.filter(tenant_id__in=list(tenant_ids))
        .order_by("tenant_id", "world_id", "channel_id")
        .values_list("tenant_id", "world_id", "channel_id")
    ):
        result.setdefault(tenant_id, []).append((world_id, channel_id))
    return result


def routes_of(*, tenant: Tenant) -> QuerySet[Route]:
    return Route.objects.filter(tenant=tenant).order_by("position", "id")


def vessels_of(*, tenant: Tenant) -> QuerySet[Vessel]:
    return Vessel.objects.filter(tenant=tenant).order_by("position", "id")


def tenant_configured(*, tenant: Tenant) -> bool:
    """Whether the tenant's configuration was ever loaded (seed, tenants service, admin)."""
    return TenantConfiguration.objects.filter(tenant=tenant).exists()


def route_get(*, tenant: Tenant, route_id: uuid.UUID) -> Route | None:
    return Route.objects.filter(tenant=tenant, route_id=route_id).first()


def route_by_start_map(*, tenant: Tenant, map_id: int) -> Route | None:
    """The first route (store order) starting at ``map_id``."""
    return routes_of(tenant=tenant).filter(start_map_id=map_id).first()


def evaluation(route: Route, now: dt.datetime) -> timetable.Evaluation:
    """The route's state at ``now``, for REST and the admin (not the stored state)."""
    return timetable.evaluate(trips_of(route), now)


def scheduled_route_owning_map(*, tenant: Tenant, map_id: int) -> Route | None:
    """The first route (store order) whose staging or an en-route map is ``map_id``."""
    for route in routes_of(tenant=tenant).only(
        "id", "route_id", "start_map_id", "staging_map_id", "en_route_map_ids"
    ):
        if route.staging_map_id == map_id or map_id in route.en_route_map_ids:
            return route
    return None


def instance_routes_of(*, tenant: Tenant) -> QuerySet[InstanceRoute]:
    return InstanceRoute.objects.filter(tenant=tenant).order_by("position", "id")


def instance_route_get(*, tenant: Tenant, route_id: uuid.UUID) -> InstanceRoute | None:
    return InstanceRoute.objects.filter(tenant=tenant, route_id=route_id).first()


def transit_map_ids(*, tenant: Tenant) -> set[int]:
    """Every transit map of the tenant's instance routes."""
    result: set[int] = set()
    for maps in InstanceRoute.objects.filter(tenant=tenant).values_list(
        "transit_map_ids", flat=True
    ):
        result.update(maps)
    return result


def instances_of_route(*, tenant: Tenant, route_id: uuid.UUID) -> QuerySet[Instance]:
    return (
        Instance.objects.filter(tenant=tenant, route_id=route_id)
        .annotate(character_count=Count("characters"))
        .order_by("instance_id")
    )


def boarding_instance(*, route: InstanceRoute, now: dt.datetime) -> Instance | None:
    """The oldest instance of ``route`` still boarding at ``now`` with a free seat."""
    return (
        Instance.objects.filter(
            tenant_id=route.tenant_id,
            route_id=route.route_id,
            state=InstanceState.BOARDING,
            boarding_until__gt=now,
        )
        .annotate(boarded=Count("characters"))
        .filter(boarded__lt=route.capacity)
        .order_by("created_at", "id")
        .first()
    )


def travelling(*, tenant: Tenant, character_id: int) -> bool:
    """Whether the character is on an instance trip."""
    return InstanceCharacter.objects.filter(tenant=tenant, character_id=character_id).exists()


def trip_of(*, tenant: Tenant, character_id: int) -> InstanceCharacter | None:
    """The character's place on an instance trip, with its instance."""
    return (
        InstanceCharacter.objects.filter(tenant=tenant, character_id=character_id)
        .select_related("instance")
        .first()
    )


def instance_occupied(*, instance: Instance) -> bool:
    return InstanceCharacter.objects.filter(instance=instance).exists()
