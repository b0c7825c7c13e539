"""The 1-second tick: lease, configuration, scheduled routes, instance timers.

Exactly one tick runs at a time: a lease row is taken with one conditional
UPDATE (several workers, or two beats by mistake, find it held and return).
Even without it a transition could not be emitted twice: each route's marker is
compared-and-set in the transaction that emits its records.

Lookups (characters in maps, spawn portals, the tenants service) happen here,
outside every transaction; the services receive their results.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction

from project.tenancy import TenantKey
from project.tenancy.models import Tenant
from project.tenancy.rows import tenant_row
from transport import clock, config, lookups, selectors, services, timetable, transitions
from transport.models import Route, TickLease

logger = logging.getLogger(__name__)

# How long start-up may spend loading tenants' routes before it leaves the rest to
# the tick (checked between tenants; one tenant's load is bounded by the client).
STARTUP_BUDGET_SECONDS = 30.0

# The most routes one transaction of the tick advances. All of a busy tick in one
# transaction would hold SQLite's only write lock (the bridge's and the workers'
# writes wait) for as long as the whole tick's writes take; batches of this size
# let them in between, at a few statements each.
ROUTES_PER_TRANSACTION = 250


@dataclass
class TickResult:
    ran: bool
    routes_due: int = 0
    routes_advanced: int = 0
    transitions: int = 0
    records: int = 0
    instances_expired: int = 0
    instances_arrived: int = 0
    instances_stuck: int = 0
    failures: list[str] = field(default_factory=list)


def run(now: dt.datetime | None = None) -> TickResult:
    """One tick at ``now`` (default: the clock).

    The usual tick has nothing to do: a few indexed reads say so, and it returns
    without writing anything (not even the lease). Otherwise the lease is taken
    and the work done.
    """
    now = now or clock.now()
    if not work_due(now=now):
        return TickResult(ran=True)
    holder = uuid.uuid4().hex
    if not services.tick_lease_acquire(
        holder=holder, now=now, seconds=settings.TRANSPORT_LEASE_SECONDS
    ):
        return TickResult(ran=False)
    try:
        result = TickResult(ran=True)
        configure_tenants(now=now, result=result)
        advance_routes(now=now, result=result, keep_lease=functools.partial(_renew, holder))
        if selectors.instance_timers_due(now=now):
            result.instances_expired = services.instances_expire_boarding(now=now)
            result.instances_arrived = services.instances_arrive(now=now)
            result.instances_stuck = services.instances_sweep_stuck(now=now)
        return result
    finally:
        services.tick_lease_release(holder=holder)


def work_due(*, now: dt.datetime) -> bool:
    """Whether a route, an instance timer or a tenant's configuration is due."""
    if selectors.routes_due_exist(now=now) or selectors.instance_timers_due(now=now):
        return True
    if lookups.tenants_service_configured():
        lease = TickLease.objects.filter(name=services.TICK_LEASE).first()
        refreshed = lease.tenants_refreshed_at if lease else None
        return refreshed is None or (
            (now - refreshed).total_seconds() >= settings.TRANSPORT_TENANT_REFRESH_SECONDS
        )
    return settings.TRANSPORT_SEED_NEW_TENANTS and selectors.unconfigured_tenants_exist()


def _renew(holder: str) -> None:
    """Extend our lease (a long catch-up with slow lookups must keep it)."""
    services.tick_lease_acquire(
        holder=holder, now=clock.now(), seconds=settings.TRANSPORT_LEASE_SECONDS
    )


# --- configuration ---------------------------------------------------------------------


def configure_tenants(*, now: dt.datetime, result: TickResult | None = None) -> None:
    """New tenants get their configuration: from the tenants service when one is
    configured (whose tenant list is re-read every TRANSPORT_TENANT_REFRESH_SECONDS,
    reconciling every tenant), else the shipped seed."""
    if lookups.tenants_service_configured():
        lease = TickLease.objects.filter(name=services.TICK_LEASE).first()
        refreshed = lease.tenants_refreshed_at if lease else None
        period = settings.TRANSPORT_TENANT_REFRESH_SECONDS
        if refreshed and (now - refreshed).total_seconds() < period:
            return
        services.tenants_refreshed(now=now)
        try:
            keys = lookups.tenants()
        except lookups.Unavailable as exc:
            logger.warning("tenant list unavailable: %s", exc)
            if result is not None:
                result.failures.append(str(exc))
            return
        for key in keys:
            reload_from_tenants_service(tenant=tenant_row(key), now=now)
        return
    if not settings.TRANSPORT_SEED_NEW_TENANTS:
        return
    for tenant in Tenant.objects.filter(transport_configuration__isnull=True):
        try:
            services.seed_configuration_load(tenant=tenant, now=now)
            logger.info("tenant %s: loaded the seed route configuration", tenant)
        except config.ConfigError:
            logger.exception("tenant %s: the seed configuration is invalid", tenant)


def configure_at_start(
    *, now: dt.datetime | None = None, budget_seconds: float = STARTUP_BUDGET_SECONDS
) -> bool:
    """Every tenant's routes, before this process consumes or serves (the app's
    before-serving hook, ``project.startup``), as upstream loads them at start-up:
    a START or a route GET arriving first then finds its route.

    With a tenants service: its tenant list, then each tenant's configuration, all
    over HTTP and outside any transaction (each replace is its own). A list that
    cannot be read (the service is down: the client's three attempts), or tenants
    left when ``budget_seconds`` is spent, are logged and left to the tick, which
    loads them on its next run; so is a tenant whose load fails. Without one: the
    seed for the known tenants that have no configuration yet (no HTTP). Returns
    whether everything was loaded.
    """
    if transaction.get_connection().in_atomic_block:
        raise RuntimeError("configure_at_start calls the tenants service: not in a transaction")
    now = now or clock.now()
    if not lookups.tenants_service_configured():
        configure_tenants(now=now)
        return True
    deadline = time.monotonic() + budget_seconds
    try:
        keys = lookups.tenants()
    except lookups.Unavailable as exc:
        logger.warning("start-up: tenant list unavailable, routes left to the tick: %s", exc)
        return False
    loaded = True
    for done, key in enumerate(keys):
        if time.monotonic() > deadline:
            logger.warning(
                "start-up: %d of %d tenants' routes left to the tick (%.0f s spent)",
                len(keys) - done,
                len(keys),
                budget_seconds,
            )
            return False
        loaded = _load_at_start(key, now=now) and loaded
    if loaded:
        services.tenants_refreshed(now=now)  # the tick need not read them all again now
    said = "loaded" if loaded else "loaded, some not (left to the tick)"
    logger.info("start-up: routes of %d tenant(s) %s", len(keys), said)
    return loaded


def _load_at_start(key: TenantKey, *, now: dt.datetime) -> bool:
    """One tenant's load. The bridge and the web server start together and both load:
    the first load of a tenant in each may insert the same new rows, and the loser of
    that race reads them back on a second try."""
    for _ in range(2):
        try:
            return reload_from_tenants_service(tenant=tenant_row(key), now=now)
        except IntegrityError as exc:
            logger.info("start-up: tenant %s loaded by another process meanwhile: %s", key, exc)
    return False


def reload_from_tenants_service(
    *, tenant: Tenant, now: dt.datetime, scheduled: bool = True, instance: bool = True
) -> bool:
    """Read the tenant's configuration from atlas-tenants and replace ours.

    Each registry is replaced only if its whole load succeeded; a failure leaves
    the stored configuration running. Returns whether everything loaded.
    """
    ok = True
    key = tenant.key
    if scheduled:
        try:
            parsed = config.parse_scheduled(
                key.id,
                lookups.configuration(tenant_key=key, resource="routes"),
                lookups.configuration(tenant_key=key, resource="vessels"),
            )
            services.scheduled_configuration_replace(
                tenant=tenant, scheduled=parsed, now=now, source="tenants"
            )
        except (lookups.Unavailable, config.ConfigError) as exc:
            logger.warning("tenant %s: scheduled routes not reloaded: %s", tenant, exc)
            ok = False
    if instance:
        try:
            routes = config.parse_instance_routes(
                key.id, lookups.configuration(tenant_key=key, resource="instance-routes")
            )
            services.instance_routes_replace(
                tenant=tenant, routes=routes, now=now, source="tenants"
            )
        except (lookups.Unavailable, config.ConfigError) as exc:
            logger.warning("tenant %s: instance routes not reloaded: %s", tenant, exc)
            ok = False
    return ok


# --- scheduled routes ------------------------------------------------------------------


def advance_routes(
    *,
    now: dt.datetime,
    result: TickResult | None = None,
    keep_lease: Callable[[], None] | None = None,
) -> None:
    """Plan every due route, then apply the plans a batch at a time; one route's
    failure does not stop the others.

    The due routes and their tenants' channels are read in two queries, every plan
    is made outside any transaction (its lookups too), and each batch of up to
    ``ROUTES_PER_TRANSACTION`` plans is applied in one transaction of a few
    statements (``services.routes_advance``): a busy tick costs by the rows it
    writes, not by statements per route. A batch that fails as a whole is applied
    again one route at a time, so the route at fault is the only one left.

    ``keep_lease`` is called when half the lease has gone by, so a long tick keeps
    its lease.
    """
    due = selectors.routes_due(now=now)
    if not due:
        return
    channels = selectors.channels_by_tenant(tenant_ids={route.tenant_id for route in due})
    parsed = timetables(due)
    renewed = time.monotonic()
    batch: list[services.Advance] = []
    for route in due:
        if keep_lease is not None and (
            time.monotonic() - renewed > settings.TRANSPORT_LEASE_SECONDS / 2
        ):
            keep_lease()
            renewed = time.monotonic()
        if result is not None:
            result.routes_due += 1
        if route.pk not in parsed:
            # Reloaded since it was read: the next tick plans it on the new timetable.
            logger.info("route %s was reloaded meanwhile; left to the next tick", route.name)
            continue
        try:
            plan = plan_route(
                route, now=now, channels=channels.get(route.tenant_id, []), parsed=parsed[route.pk]
            )
        except lookups.Unavailable as exc:
            # Not advanced: the next tick tries again (and catches up).
            logger.warning("route %s not advanced: %s", route.name, exc)
            if result is not None:
                result.failures.append(f"{route.name}: {exc}")
            continue
        except Exception as exc:  # one route must not stop the tick
            logger.exception("route %s failed", route.name)
            if result is not None:
                result.failures.append(f"{route.name}: {exc}")
            continue
        batch.append(services.Advance(route, route.next_boundary_at, plan))
        if len(batch) == ROUTES_PER_TRANSACTION:
            _apply(batch, result)
            batch = []
    _apply(batch, result)


def _apply(batch: list[services.Advance], result: TickResult | None) -> None:
    """One batch in one transaction, or, when that fails, one route at a time."""
    if not batch:
        return
    try:
        applied = services.routes_advance(advances=batch)
    except Exception:
        logger.warning(
            "a batch of %d routes failed; advancing them one at a time", len(batch), exc_info=True
        )
        applied = []
        for advance in batch:
            try:
                if services.route_advance(
                    route=advance.route, expected_marker=advance.expected_marker, plan=advance.plan
                ):
                    applied.append(advance)
            except Exception as exc:  # one route must not stop the tick
                logger.exception("route %s failed", advance.route.name)
                if result is not None:
                    result.failures.append(f"{advance.route.name}: {exc}")
    if result is not None:
        for advance in applied:
            result.routes_advanced += 1
            result.transitions += len(advance.plan.transitions)
            result.records += len(advance.plan.records)


def plan_route(
    route: Route,
    *,
    now: dt.datetime,
    channels: list[tuple[int, int]],
    parsed: ParsedTimetable,
) -> transitions.Plan:
    tenant = route.tenant

    def occupants(world_id: int, channel_id: int, map_id: int) -> list[int]:
        return lookups.characters_in_map(
            tenant=tenant, world_id=world_id, channel_id=channel_id, map_id=map_id
        )

    def portal_for(map_id: int) -> int:
        return lookups.spawn_portal(tenant=tenant, map_id=map_id)

    return transitions.plan(
        selectors.route_view(route, trips=parsed.trips, points=parsed.points),
        now,
        channels=channels,
        occupants=occupants,
        portal_for=portal_for,
        catch_up_seconds=settings.TRANSPORT_CATCH_UP_SECONDS,
    )


# --- parsed timetables -----------------------------------------------------------------


@dataclass(frozen=True)
class ParsedTimetable:
    """A route's schedule as planning uses it: its trips and their boundaries."""

    trips: list[timetable.Trip]
    points: list[int]


# The most parsed timetables a process keeps (about 20 KB each with the seed's
# ~120 trips a route): past it, the least recently used are parsed again.
TIMETABLES_KEPT = 2000

_timetables: OrderedDict[tuple[int, int], ParsedTimetable] = OrderedDict()
_timetables_lock = threading.Lock()


def timetables(routes: Sequence[Route]) -> dict[int, ParsedTimetable]:
    """Each route's timetable by pk, parsed once per configuration version.

    Reading a route's stored schedule and parsing it cost more than everything
    else a transition does (a day of trips, each with its uuid): about 0.6 ms a
    route, 0.7 s for 1,200 routes transitioning in one tick. A schedule changes
    only with the route's ``version`` (every reload bumps it; the tick's
    compare-and-set relies on that too), so the parsed form is kept by (pk,
    version) and only the schedules not kept are read, in one query. One read
    inside a transaction (which may roll back) is used but not kept. A route
    whose version moved on between the two reads is absent (reloaded meanwhile).
    """
    found: dict[int, ParsedTimetable] = {}
    missing: list[int] = []
    with _timetables_lock:
        for route in routes:
            kept = _timetables.get((route.pk, route.version))
            if kept is None:
                missing.append(route.pk)
            else:
                _timetables.move_to_end((route.pk, route.version))
                found[route.pk] = kept
    if not missing:
        return found
    keep = not transaction.get_connection().in_atomic_block
    versions = {route.pk: route.version for route in routes}
    for pk, version, schedule in selectors.schedules(route_pks=missing):
        trips = [timetable.Trip.from_row(row) for row in schedule]
        parsed = ParsedTimetable(trips, timetable.boundaries(trips))
        if keep:
            with _timetables_lock:
                _timetables[(pk, version)] = parsed
                while len(_timetables) > TIMETABLES_KEPT:
                    _timetables.popitem(last=False)
        if version == versions[pk]:
            found[pk] = parsed
    return found
