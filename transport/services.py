"""Every write of transport (spec/transports.md §2 to §5).

Plain functions over the database: keyword-only arguments, one
``transaction.atomic()`` each, records buffered with ``bus.emit`` inside it (the
outbox). No service talks to Kafka, Celery or HTTP: lookups of outside services
are done by the caller beforehand and passed in (the tick's plan, a handler's
``prepare``). Time is passed in as ``now`` (read from ``transport.clock``).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Count, Q

from project.messaging import bus
from project.messaging.errors import DomainError, Record
from project.tenancy.models import Tenant
from transport import config, messages, selectors, timetable
from transport.models import (
    Channel,
    Instance,
    InstanceCharacter,
    InstanceRoute,
    InstanceState,
    Route,
    RouteState,
    TenantConfiguration,
    TickLease,
    Vessel,
)
from transport.transitions import Plan

logger = logging.getLogger(__name__)

NIL_UUID = uuid.UUID(int=0)
TICK_LEASE = "tick"
# Instances finished per transaction by the tick's timers.
INSTANCE_BATCH = 200


def _emit(tenant: Tenant, records: Iterable[Record]) -> None:
    for record in records:
        bus.emit(tenant=tenant, topic=record.topic, key=record.key, value=record.value)


# --- configuration (§2) ----------------------------------------------------------------


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
    """Replace the tenant's scheduled routes and vessels with a validated set (§2.3).

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
    """Replace the tenant's instance routes (§2.3); live instances stay as they are,
    except that their stuck deadline follows the new durations (§4.3)."""
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
        for row in InstanceRoute.objects.filter(tenant=tenant)
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
        if not TenantConfiguration.objects.filter(tenant=tenant).exists():
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
        for r in Route.objects.filter(tenant=tenant).order_by("position", "id")
    ]
    vessels = [
        config.VesselConfig(v.slug, v.name, v.route_a_name, v.route_b_name, v.turnaround_seconds)
        for v in Vessel.objects.filter(tenant=tenant).order_by("position", "id")
    ]
    scheduled_configuration_replace(
        tenant=tenant,
        scheduled=config.ScheduledConfig(routes, vessels),
        now=now,
        source="admin",
    )


# --- channel registry (§5) -------------------------------------------------------------


def channel_register(*, tenant: Tenant, world_id: int, channel_id: int) -> None:
    with transaction.atomic():
        Channel.objects.get_or_create(tenant=tenant, world_id=world_id, channel_id=channel_id)


def channel_unregister(*, tenant: Tenant, world_id: int, channel_id: int) -> None:
    with transaction.atomic():
        Channel.objects.filter(tenant=tenant, world_id=world_id, channel_id=channel_id).delete()


# --- scheduled routes (§3.4) -----------------------------------------------------------


def route_advance(*, route: Route, expected_marker: dt.datetime | None, plan: Plan) -> bool:
    """Persist a route's planned transitions and emit their records, exactly once.

    One conditional UPDATE (compare-and-set on the marker and the configuration
    version the plan started from): if another tick got there first, or a reload
    replaced the timetable meanwhile, it matches no row and nothing is emitted.
    """
    changes: dict = {"next_boundary_at": plan.next_boundary_at}
    if plan.state != route.state:
        changes.update(state=plan.state, state_changed_at=plan.state_changed_at)
    with transaction.atomic():
        updated = Route.objects.filter(
            pk=route.pk, next_boundary_at=expected_marker, version=route.version
        ).update(**changes)
        if updated != 1:
            return False
        _emit(route.tenant, plan.records)
    return True


def character_logout(
    *,
    tenant: Tenant,
    character_id: int,
    world_id: int,
    channel_id: int,
    map_id: int,
    start_map_portal: dict | None = None,
) -> None:
    """LOGOUT: cancel the character's instance trip (§4.6), then the scheduled-route
    warp back to the start map (§3.8), as two separate steps of one transaction.

    ``start_map_portal`` is ``{"mapId": …, "portalId": …}`` looked up beforehand for
    the route owning ``map_id``; without it (or for another map) portal 0 is used.
    """
    with transaction.atomic():
        _leave_instance(
            tenant=tenant,
            character_id=character_id,
            world_id=world_id,
            channel_id=channel_id,
            reason=messages.REASON_LOGOUT,
        )
        route = selectors.scheduled_route_owning_map(tenant=tenant, map_id=map_id)
        if route is not None:
            portal = 0
            if start_map_portal and start_map_portal.get("mapId") == route.start_map_id:
                portal = int(start_map_portal.get("portalId") or 0)
            bus.emit(
                tenant=tenant,
                topic=messages.COMMAND_TOPIC_CHARACTER,
                key=messages.character_key(character_id),
                value=messages.change_map(
                    world_id=world_id,
                    character_id=character_id,
                    channel_id=channel_id,
                    map_id=route.start_map_id,
                    instance=NIL_UUID,
                    portal_id=portal,
                ),
            )


# --- instance routes (§4) --------------------------------------------------------------


class StartRefused(DomainError):
    """START refused: the character is already travelling, or the route is unknown.

    No events: the Kafka path never reports it (§4.2), the inbox only logs it; REST
    answers 400 with an empty body."""

    def __init__(self, problem: str, *, character_id: int, route_id: uuid.UUID) -> None:
        super().__init__(
            f"START of character {character_id} on route {route_id} refused: {problem}"
        )


@dataclass(frozen=True)
class Started:
    instance: Instance
    route: InstanceRoute


def instance_transport_start(
    *,
    tenant: Tenant,
    character_id: int,
    world_id: int,
    channel_id: int,
    route_id: uuid.UUID,
    now: dt.datetime,
) -> Started:
    """Create or join an instance of ``route_id`` and board the character (§4.2).

    The route row is locked, so concurrent STARTs of one route join and create
    instances one at a time: capacity holds (upstream can overfill). The unique
    (tenant, character) constraint keeps a character on one trip; a concurrent
    duplicate fails the insert and is retried by the inbox, then refused.
    Raises ``StartRefused`` (nothing changed, nothing emitted).
    """
    with transaction.atomic():
        if InstanceCharacter.objects.filter(tenant=tenant, character_id=character_id).exists():
            raise StartRefused("already in transport", character_id=character_id, route_id=route_id)
        route = (
            InstanceRoute.objects.select_for_update()
            .filter(tenant=tenant, route_id=route_id)
            .first()
        )
        if route is None:
            raise StartRefused("route not found", character_id=character_id, route_id=route_id)
        instance = (
            Instance.objects.filter(
                tenant=tenant,
                route_id=route_id,
                state=InstanceState.BOARDING,
                boarding_until__gt=now,
            )
            .annotate(boarded=Count("characters"))
            .filter(boarded__lt=route.capacity)
            .order_by("created_at", "id")
            .first()
        )
        if instance is None:
            boarding_until = now + dt.timedelta(seconds=route.boarding_window_seconds)
            instance = Instance.objects.create(
                tenant=tenant,
                instance_id=uuid.uuid4(),
                route_id=route_id,
                state=InstanceState.BOARDING,
                boarding_until=boarding_until,
                arrival_at=boarding_until + dt.timedelta(seconds=route.travel_seconds),
                created_at=now,
                stuck_at=now + dt.timedelta(seconds=route.max_lifetime_seconds),
            )
        try:
            with transaction.atomic():
                InstanceCharacter.objects.create(
                    tenant=tenant,
                    instance=instance,
                    character_id=character_id,
                    world_id=world_id,
                    channel_id=channel_id,
                    joined_at=now,
                )
        except IntegrityError:
            raise StartRefused(
                "already in transport", character_id=character_id, route_id=route_id
            ) from None
        for item_id in route.effect_item_ids:
            bus.emit(
                tenant=tenant,
                topic=messages.COMMAND_TOPIC_CONSUMABLE,
                key=messages.character_key(character_id),
                value=messages.consumable_effect(
                    event_type=messages.APPLY_CONSUMABLE_EFFECT,
                    world_id=world_id,
                    channel_id=channel_id,
                    character_id=character_id,
                    item_id=item_id,
                ),
            )
        bus.emit(
            tenant=tenant,
            topic=messages.COMMAND_TOPIC_CHARACTER,
            key=messages.character_key(character_id),
            value=messages.change_map(
                world_id=world_id,
                character_id=character_id,
                channel_id=channel_id,
                map_id=route.transit_map_ids[0],
                instance=instance.instance_id,
                portal_id=0,
            ),
        )
        _instance_event(
            tenant,
            world_id=world_id,
            character_id=character_id,
            event_type=messages.STARTED,
            body=messages.started_body(route_id=route_id, instance_id=instance.instance_id),
        )
    return Started(instance, route)


def _instance_event(
    tenant: Tenant, *, world_id: int, character_id: int, event_type: str, body: dict
) -> None:
    bus.emit(
        tenant=tenant,
        topic=messages.EVENT_TOPIC_INSTANCE_TRANSPORT,
        key=messages.character_key(character_id),
        value=messages.instance_event(
            world_id=world_id, character_id=character_id, event_type=event_type, body=body
        ),
    )


def _cancel_effects(
    tenant: Tenant,
    route: InstanceRoute | None,
    *,
    world_id: int,
    channel_id: int,
    character_id: int,
) -> None:
    if route is None:
        return
    for item_id in route.effect_item_ids:
        bus.emit(
            tenant=tenant,
            topic=messages.COMMAND_TOPIC_CONSUMABLE,
            key=messages.character_key(character_id),
            value=messages.consumable_effect(
                event_type=messages.CANCEL_CONSUMABLE_EFFECT,
                world_id=world_id,
                channel_id=channel_id,
                character_id=character_id,
                item_id=item_id,
            ),
        )


def _leave_instance(
    *, tenant: Tenant, character_id: int, world_id: int, channel_id: int, reason: str
) -> bool:
    """The character leaves its trip (MAP_EXIT, LOGOUT): CANCEL effects, CANCELLED,
    and the instance is released when it is now empty. False if not travelling."""
    registration = (
        InstanceCharacter.objects.select_for_update()
        .filter(tenant=tenant, character_id=character_id)
        .select_related("instance")
        .first()
    )
    if registration is None:
        return False
    instance = registration.instance
    route = InstanceRoute.objects.filter(tenant=tenant, route_id=instance.route_id).first()
    if route is None:
        logger.warning("instance %s: its route is gone; no effects to cancel", instance)
    _cancel_effects(
        tenant, route, world_id=world_id, channel_id=channel_id, character_id=character_id
    )
    registration.delete()
    _instance_event(
        tenant,
        world_id=world_id,
        character_id=character_id,
        event_type=messages.CANCELLED,
        body=messages.cancelled_body(
            route_id=instance.route_id, instance_id=instance.instance_id, reason=reason
        ),
    )
    if not InstanceCharacter.objects.filter(instance=instance).exists():
        instance.delete()
    return True


def character_map_enter(
    *,
    tenant: Tenant,
    character_id: int,
    world_id: int,
    channel_id: int,
    map_id: int,
    now: dt.datetime,
) -> None:
    """CHARACTER_ENTER (§4.4): leaving the trip cancels it; entering a transit map of
    the character's route announces TRANSIT_ENTERED with the remaining seconds."""
    with transaction.atomic():
        is_transit = map_id in selectors.transit_map_ids(tenant=tenant)
        if not is_transit:
            _leave_instance(
                tenant=tenant,
                character_id=character_id,
                world_id=world_id,
                channel_id=channel_id,
                reason=messages.REASON_MAP_EXIT,
            )
            return
        registration = (
            InstanceCharacter.objects.filter(tenant=tenant, character_id=character_id)
            .select_related("instance")
            .first()
        )
        if registration is None:
            return
        instance = registration.instance
        route = InstanceRoute.objects.filter(tenant=tenant, route_id=instance.route_id).first()
        if route is None:
            return
        if map_id not in route.transit_map_ids:
            logger.warning(
                "character %s entered transit map %s, not one of route %s",
                character_id,
                map_id,
                route.name,
            )
            return
        remaining = max(0.0, (instance.arrival_at - now).total_seconds())
        _instance_event(
            tenant,
            world_id=world_id,
            character_id=character_id,
            event_type=messages.TRANSIT_ENTERED,
            body=messages.transit_entered_body(
                route_id=route.route_id,
                instance_id=instance.instance_id,
                channel_id=channel_id,
                duration_seconds=int(remaining),
                message=route.transit_message,
            ),
        )


def instances_expire_boarding(*, now: dt.datetime) -> int:
    """Boarding windows that closed become in transit; nothing is emitted (§4.3.1)."""
    with transaction.atomic():
        return Instance.objects.filter(state=InstanceState.BOARDING, boarding_until__lt=now).update(
            state=InstanceState.IN_TRANSIT
        )


def _finish_instance(
    instance: Instance,
    route: InstanceRoute | None,
    *,
    target_map_id: int,
    event: str | None,
    reason: str = "",
) -> None:
    """Warp every character of ``instance`` to ``target_map_id``, emit ``event`` per
    character (None: no event), and release the instance."""
    tenant = instance.tenant
    for character in instance.characters.all():
        _cancel_effects(
            tenant,
            route,
            world_id=character.world_id,
            channel_id=character.channel_id,
            character_id=character.character_id,
        )
        bus.emit(
            tenant=tenant,
            topic=messages.COMMAND_TOPIC_CHARACTER,
            key=messages.character_key(character.character_id),
            value=messages.change_map(
                world_id=character.world_id,
                character_id=character.character_id,
                channel_id=character.channel_id,
                map_id=target_map_id,
                instance=NIL_UUID,
                portal_id=0,
            ),
        )
        if event is not None:
            body = (
                messages.cancelled_body(
                    route_id=instance.route_id, instance_id=instance.instance_id, reason=reason
                )
                if event == messages.CANCELLED
                else messages.completed_body(
                    route_id=instance.route_id, instance_id=instance.instance_id
                )
            )
            _instance_event(
                tenant,
                world_id=character.world_id,
                character_id=character.character_id,
                event_type=event,
                body=body,
            )
    instance.delete()  # its characters go with it (unregistered)


def _due_batch(query) -> list[Instance]:
    return list(
        query.select_for_update(skip_locked=True, of=("self",))
        .select_related("tenant")
        .order_by("id")[:INSTANCE_BATCH]
    )


def instances_arrive(*, now: dt.datetime) -> int:
    """Instances past ``arrivalAt`` (§4.3.2): COMPLETED at the destination, or
    CANCELLED/TIMEOUT at the forced-return map; a route gone → released silently."""
    finished = 0
    while True:
        with transaction.atomic():
            batch = _due_batch(
                Instance.objects.filter(state=InstanceState.IN_TRANSIT, arrival_at__lt=now)
            )
            for instance in batch:
                route = InstanceRoute.objects.filter(
                    tenant=instance.tenant, route_id=instance.route_id
                ).first()
                if route is None:
                    instance.delete()
                elif route.forced_return_map_id:
                    _finish_instance(
                        instance,
                        route,
                        target_map_id=route.forced_return_map_id,
                        event=messages.CANCELLED,
                        reason=messages.REASON_TIMEOUT,
                    )
                else:
                    _finish_instance(
                        instance,
                        route,
                        target_map_id=route.destination_map_id,
                        event=messages.COMPLETED,
                    )
        finished += len(batch)
        if len(batch) < INSTANCE_BATCH:
            return finished


def instances_sweep_stuck(*, now: dt.datetime) -> int:
    """Instances alive longer than their route's maxLifetime (§4.3.3): back to the
    start map with CANCELLED/STUCK."""
    finished = 0
    while True:
        with transaction.atomic():
            batch = _due_batch(Instance.objects.filter(stuck_at__lt=now))
            for instance in batch:
                route = InstanceRoute.objects.filter(
                    tenant=instance.tenant, route_id=instance.route_id
                ).first()
                if route is None:  # removed meanwhile: not "currently configured"
                    instance.stuck_at = None
                    instance.save(update_fields=["stuck_at"])
                    continue
                _finish_instance(
                    instance,
                    route,
                    target_map_id=route.start_map_id,
                    event=messages.CANCELLED,
                    reason=messages.REASON_STUCK,
                )
        finished += len(batch)
        if len(batch) < INSTANCE_BATCH:
            return finished


def instances_shutdown(*, instance_pks: list[int] | None = None) -> int:
    """Graceful shutdown (§4.7) of every live instance (or of ``instance_pks``):
    everyone back to the start map, effects cancelled, no CANCELLED events;
    instances of removed routes are released."""
    count = 0
    with transaction.atomic():
        query = Instance.objects.select_for_update(of=("self",)).select_related("tenant")
        if instance_pks is not None:
            query = query.filter(pk__in=instance_pks)
        for instance in query.order_by("id"):
            route = InstanceRoute.objects.filter(
                tenant=instance.tenant, route_id=instance.route_id
            ).first()
            if route is None:
                instance.delete()
            else:
                _finish_instance(instance, route, target_map_id=route.start_map_id, event=None)
            count += 1
    return count


# --- the tick's lease ------------------------------------------------------------------


def tick_lease_acquire(*, holder: str, now: dt.datetime, seconds: float) -> bool:
    """Take the tick lease if it is free or expired; exactly one tick runs at a time."""
    with transaction.atomic():
        TickLease.objects.get_or_create(name=TICK_LEASE)
        taken = (
            TickLease.objects.filter(name=TICK_LEASE)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__lt=now) | Q(holder=holder))
            .update(holder=holder, expires_at=now + dt.timedelta(seconds=seconds))
        )
    return taken == 1


def tick_lease_release(*, holder: str) -> None:
    with transaction.atomic():
        TickLease.objects.filter(name=TICK_LEASE, holder=holder).update(expires_at=None)


def tenants_refreshed(*, now: dt.datetime) -> None:
    with transaction.atomic():
        TickLease.objects.filter(name=TICK_LEASE).update(tenants_refreshed_at=now)


# --- admin edits -----------------------------------------------------------------------


def route_config_save(*, route: Route, now: dt.datetime) -> None:
    """Save an edited (already validated) scheduled route and rebuild the timetable."""
    with transaction.atomic():
        if route.position is None:
            route.position = Route.objects.filter(tenant=route.tenant).count()
        route.save()
        scheduled_configuration_recompute(tenant=route.tenant, now=now)


def vessel_config_save(*, vessel: Vessel, now: dt.datetime) -> None:
    with transaction.atomic():
        if vessel.position is None:
            vessel.position = Vessel.objects.filter(tenant=vessel.tenant).count()
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
            route.position = InstanceRoute.objects.filter(tenant=route.tenant).count()
        route.save()
        _refresh_stuck_deadlines(tenant=route.tenant)


def instance_route_config_delete(*, route: InstanceRoute) -> None:
    with transaction.atomic():
        tenant = route.tenant
        route.delete()
        _refresh_stuck_deadlines(tenant=tenant)
