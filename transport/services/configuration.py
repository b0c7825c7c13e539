"""A tenant's route configuration: replaced from the tenants service or the
seed, ensured on a tenant's first message, rebuilt after an admin edit.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import IntegrityError, transaction

from project.tenancy.models import Tenant
from transport import config, selectors, timetable
from transport.models import (
    Instance,
    InstanceRoute,
    Route,
    RouteState,
    TenantConfiguration,
    Vessel,
)

logger = logging.getLogger(__name__)


def _times(route: config.RouteConfig) -> timetable.RouteTimes:
    return timetable.RouteTimes(
        route.route_id,
        route.name,
        route.boarding_window,
        route.pre_departure,
        route.travel,
        route.cycle_interval,
    )


def scheduled_configuration_replace(
    *, tenant: Tenant, scheduled: config.ScheduledConfig, now: dt.datetime, source: str
) -> list[Route]:
    """Replace the tenant's scheduled routes and vessels with a validated set.

    Schedules are recomputed. A route that stays (same id) keeps its stored state;
    its marker moves to ``now`` at the latest, so the next tick re-evaluates it and
    fires only a real change (upstream restarts every route from out_of_service and
    re-runs entry effects). A new route starts out_of_service, due now.
    """
    ids = [route.route_id for route in scheduled.routes]
    if len(set(ids)) != len(ids):
        raise config.ConfigError("two routes have the same id")
    trips = timetable.compute(
        [_times(r) for r in scheduled.routes],
        [timetable.VesselPair(v.route_a, v.route_b, v.turnaround) for v in scheduled.vessels],
    )
    with transaction.atomic():
        _lock_configuration(tenant)
        existing = {
            row.route_id: row for row in Route.objects.select_for_update().filter(tenant=tenant)
        }
        Route.objects.filter(tenant=tenant).exclude(route_id__in=ids).delete()
        Vessel.objects.filter(tenant=tenant).delete()
        Vessel.objects.bulk_create(
            Vessel(
                tenant=tenant,
                position=position,
                slug=v.slug,
                name=v.name,
                route_a_name=v.route_a,
                route_b_name=v.route_b,
                turnaround_seconds=v.turnaround,
            )
            for position, v in enumerate(scheduled.vessels)
        )
        saved = []
        for position, (route, route_trips) in enumerate(zip(scheduled.routes, trips, strict=True)):
            row = existing.get(route.route_id) or Route(
                tenant=tenant, route_id=route.route_id, state=RouteState.OUT_OF_SERVICE
            )
            row.position = position
            row.slug = route.slug
            row.name = route.name
            row.start_map_id = route.start_map_id
            row.staging_map_id = route.staging_map_id
            row.en_route_map_ids = list(route.en_route_map_ids)
            row.destination_map_id = route.destination_map_id
            row.observation_map_id = route.observation_map_id
            row.boarding_window_seconds = route.boarding_window
            row.pre_departure_seconds = route.pre_departure
            row.travel_seconds = route.travel
            row.cycle_interval_seconds = route.cycle_interval
            row.schedule = [trip.as_row() for trip in route_trips]
            row.schedule_date = now.astimezone(dt.UTC).date()
            marker = row.next_boundary_at
            row.next_boundary_at = now if marker is None or marker > now else marker
            row.version += 1
            row.save()
            saved.append(row)
        _mark_configured(tenant=tenant, now=now, source=source)
    return saved


def instance_routes_replace(
    *, tenant: Tenant, routes: list[config.InstanceRouteConfig], now: dt.datetime, source: str
) -> list[InstanceRoute]:
    """Replace the tenant's instance routes; live instances stay as they are,
    except that their stuck deadline follows the new durations."""
    ids = [route.route_id for route in routes]
    if len(set(ids)) != len(ids):
        raise config.ConfigError("two instance routes have the same id")
    with transaction.atomic():
        _lock_configuration(tenant)
        existing = {
            row.route_id: row
            for row in InstanceRoute.objects.select_for_update().filter(tenant=tenant)
        }
        InstanceRoute.objects.filter(tenant=tenant).exclude(route_id__in=ids).delete()
        saved = []
        for position, route in enumerate(routes):
            row = existing.get(route.route_id) or InstanceRoute(
                tenant=tenant, route_id=route.route_id
            )
            row.position = position
            row.slug = route.slug
            row.name = route.name
            row.start_map_id = route.start_map_id
            row.transit_map_ids = list(route.transit_map_ids)
            row.destination_map_id = route.destination_map_id
            row.capacity = route.capacity
            row.boarding_window_seconds = route.boarding_window
            row.travel_seconds = route.travel
            row.transit_message = route.transit_message
            row.effect_item_ids = list(route.effect_item_ids)
            row.forced_return_map_id = route.forced_return_map_id
            row.save()
            saved.append(row)
        _refresh_stuck_deadlines(tenant=tenant)
        _mark_configured(tenant=tenant, now=now, source=source)
    return saved


def _refresh_stuck_deadlines(*, tenant: Tenant) -> None:
    lifetimes = {
        row.route_id: row.max_lifetime_seconds
        for row in selectors.instance_routes_of(tenant=tenant)
    }
    for instance in Instance.objects.select_for_update().filter(tenant=tenant):
        lifetime = lifetimes.get(instance.route_id)
        stuck_at = (
            None if lifetime is None else instance.created_at + dt.timedelta(seconds=lifetime)
        )
        if stuck_at != instance.stuck_at:
            instance.stuck_at = stuck_at
            instance.save(update_fields=["stuck_at"])


def _lock_configuration(tenant: Tenant) -> None:
    """Replaces of one tenant's configuration run one at a time.

    The bridge's and the web server's start-up loads and the tick may replace the
    same tenant's routes together; on a tenant's first load there is no route row
    to lock yet, and two transactions inserting its rows were seen to deadlock on
    PostgreSQL. The tenant row is locked FOR NO KEY UPDATE, which the foreign-key
    checks of other writes (KEY SHARE) do not wait for. (SQLite's transactions
    are serialised already.)
    """
    list(Tenant.objects.select_for_update(no_key=True).filter(pk=tenant.pk).values_list("pk"))


def _mark_configured(*, tenant: Tenant, now: dt.datetime, source: str) -> None:
    TenantConfiguration.objects.update_or_create(
        tenant=tenant, defaults={"source": source, "loaded_at": now}
    )


def seed_configuration_load(*, tenant: Tenant, now: dt.datetime) -> None:
    """Load the configuration shipped in ``transport/seed/`` for ``tenant``."""
    scheduled = config.parse_scheduled(
        tenant.uuid, config.seed_items("routes"), config.seed_items("vessels")
    )
    instance_routes = config.parse_instance_routes(
        tenant.uuid, config.seed_items("instance-routes")
    )
    with transaction.atomic():
        scheduled_configuration_replace(tenant=tenant, scheduled=scheduled, now=now, source="seed")
        instance_routes_replace(tenant=tenant, routes=instance_routes, now=now, source="seed")


# Tenants known to have a configuration, by row id (filled after commit).
_configured_tenants: set[int] = set()


def tenant_configuration_ensure(*, tenant: Tenant, now: dt.datetime, seed: bool) -> None:
    """Give a tenant seen for the first time the seed configuration, now (``seed``:
    when the seed is the default, i.e. no tenants service), so a START or a REST
    read arriving before the next tick already finds its routes. Cheap after the
    first call of a process: a set lookup."""
    if not seed or tenant.pk in _configured_tenants:
        return
    with transaction.atomic():
        if not selectors.tenant_configured(tenant=tenant):
            try:
                seed_configuration_load(tenant=tenant, now=now)  # a savepoint
                logger.info("tenant %s: loaded the seed route configuration", tenant)
            except IntegrityError:
                pass  # seeded at the same moment by another process (the tick)
        pk = tenant.pk
        transaction.on_commit(lambda: _configured_tenants.add(pk))


def scheduled_configuration_recompute(*, tenant: Tenant, now: dt.datetime) -> None:
    """Rebuild the tenant's timetable from its stored routes and vessels (admin edits)."""
    routes = [
        config.RouteConfig(
            route_id=r.route_id,
            slug=r.slug,
            name=r.name,
            start_map_id=r.start_map_id,
            staging_map_id=r.staging_map_id,
            en_route_map_ids=list(r.en_route_map_ids),
            destination_map_id=r.destination_map_id,
            observation_map_id=r.observation_map_id,
            boarding_window=r.boarding_window_seconds,
            pre_departure=r.pre_departure_seconds,
            travel=r.travel_seconds,
            cycle_interval=r.cycle_interval_seconds,
        )
        for r in selectors.routes_of(tenant=tenant)
    ]
    vessels = [
        config.VesselConfig(v.slug, v.name, v.route_a_name, v.route_b_name, v.turnaround_seconds)
        for v in selectors.vessels_of(tenant=tenant)
    ]
    scheduled_configuration_replace(
        tenant=tenant,
        scheduled=config.ScheduledConfig(routes, vessels),
        now=now,
        source="admin",
    )


# --- admin edits -----------------------------------------------------------------------


def route_config_save(*, route: Route, now: dt.datetime) -> None:
    """Save an edited (already validated) scheduled route and rebuild the timetable."""
    with transaction.atomic():
        if route.position is None:
            route.position = selectors.routes_of(tenant=route.tenant).count()
        route.save()
        scheduled_configuration_recompute(tenant=route.tenant, now=now)


def vessel_config_save(*, vessel: Vessel, now: dt.datetime) -> None:
    with transaction.atomic():
        if vessel.position is None:
            vessel.position = selectors.vessels_of(tenant=vessel.tenant).count()
        vessel.save()
        scheduled_configuration_recompute(tenant=vessel.tenant, now=now)


def scheduled_config_delete(*, row: Route | Vessel, now: dt.datetime) -> None:
    with transaction.atomic():
        tenant = row.tenant
        row.delete()
        scheduled_configuration_recompute(tenant=tenant, now=now)


def instance_route_config_save(*, route: InstanceRoute) -> None:
    with transaction.atomic():
        if route.position is None:
            route.position = selectors.instance_routes_of(tenant=route.tenant).count()
        route.save()
        _refresh_stuck_deadlines(tenant=route.tenant)


def instance_route_config_delete(*, route: InstanceRoute) -> None:
    with transaction.atomic():
        tenant = route.tenant
        route.delete()
        _refresh_stuck_deadlines(tenant=tenant)
