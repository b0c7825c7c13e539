"""A busy tick: many routes transitioning at once are written in batches of a few
statements, a route that cannot be written does not hold back its batch, and a
route's timetable is parsed once per configuration version."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from project.messaging.models import OutboxMessage
from tests.support import new_tenant, sent_by
from tests.transport.support import at
from transport import config, messages, services, tick
from transport.models import Route, RouteState

STATUS = messages.EVENT_TOPIC_TRANSPORT_STATUS
MIDNIGHT = at("2026-08-06T00:00:00")


def seeded_tenants(count: int, now: dt.datetime) -> list:
    """Tenants with the shipped seed: 12 routes each, all changing state at midnight."""
    tenants = []
    for _ in range(count):
        tenant = new_tenant()
        services.seed_configuration_load(tenant=tenant, now=now)
        tenants.append(tenant)
    return tenants


def statements_of(context: CaptureQueriesContext) -> list[str]:
    """The statements run, without the test transaction's savepoints."""
    return [
        q["sql"]
        for q in context.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("tenants", [1, 8])
def test_a_busy_tick_costs_a_few_statements_however_many_routes_transition(tenants):
    """Every route of every tenant transitions at midnight: 12 or 96 routes. Written
    one route at a time (a transaction, an UPDATE, an INSERT a record) the 96 took
    over 300 statements; batched, both ticks take the same few."""
    seeded_tenants(tenants, MIDNIGHT)

    with CaptureQueriesContext(connection) as context:
        result = tick.run(MIDNIGHT + dt.timedelta(milliseconds=200))

    assert result.routes_due == result.routes_advanced == result.transitions == 12 * tenants
    assert result.records == 6 * tenants  # ARRIVED of each tenant's six A sides
    assert len(statements_of(context)) <= 16, statements_of(context)  # 13 today


def emitted_in_order(tenants: list) -> list[tuple[int, str, str]]:
    """(tenant's index, route name, type) of the tenants' records, in outbox order."""
    index = {tenant.pk: n for n, tenant in enumerate(tenants)}
    names = {str(r.route_id): r.name for r in Route.objects.filter(tenant__in=tenants)}
    records = []
    for row in OutboxMessage.objects.filter(tenant__in=tenants).order_by("id"):
        value = json.loads(bytes(row.value))
        records.append((index[row.tenant_id], names[value["routeId"]], value["type"]))
    return records


@pytest.mark.django_db
def test_batches_split_a_busy_tick_without_changing_what_it_emits_or_its_order(monkeypatch):
    """In batches of 5 routes the same records leave in the same order, across
    routes and tenants; each batch adds its few statements."""
    first = seeded_tenants(3, MIDNIGHT)
    with CaptureQueriesContext(connection) as whole:
        tick.run(MIDNIGHT + dt.timedelta(milliseconds=200))
    midnight = MIDNIGHT + dt.timedelta(days=1)
    second = seeded_tenants(3, midnight)
    monkeypatch.setattr(tick, "ROUTES_PER_TRANSACTION", 5)

    with CaptureQueriesContext(connection) as batched:
        result = tick.run(midnight + dt.timedelta(milliseconds=200))

    assert len(emitted_in_order(first)) == 18
    assert emitted_in_order(second) == emitted_in_order(first)
    batches = -(-result.routes_due // 5)
    assert batches >= 8
    assert len(statements_of(batched)) <= len(statements_of(whole)) + 4 * batches


def independent_route(route_id: uuid.UUID, en_route_map_ids: list[int]) -> config.RouteConfig:
    """Open 4 min, locked 1 min, travels 10 min, every 15 min from midnight."""
    return config.RouteConfig(
        route_id=route_id,
        slug=str(route_id),
        name=str(route_id),
        start_map_id=10,
        staging_map_id=11,
        en_route_map_ids=en_route_map_ids,
        destination_map_id=14,
        observation_map_id=10,
        boarding_window=240,
        pre_departure=60,
        travel=600,
        cycle_interval=900,
    )


@pytest.mark.django_db
def test_a_route_whose_records_cannot_be_written_does_not_hold_back_its_batch():
    """A departure whose VOYAGE_DEPARTED would be over the producer's limit (an
    en-route map list of 1 MB) fails its batch; the batch is written again one
    route at a time, so only that route is left behind (and reported)."""
    tenant = new_tenant()
    small, huge = uuid.uuid4(), uuid.uuid4()
    services.scheduled_configuration_replace(
        tenant=tenant,
        scheduled=config.ScheduledConfig(
            [
                independent_route(small, [12, 13]),
                independent_route(huge, list(range(10_000_000, 10_120_000))),
            ],
            [],
        ),
        now=at("2026-08-06T00:04:30"),
        source="test",
    )
    services.channel_register(tenant=tenant, world_id=0, channel_id=1)
    tick.run(at("2026-08-06T00:04:30"))  # both locked, waiting to depart

    result = tick.run(at("2026-08-06T00:05:00.2"))

    assert result.routes_due == 2 and result.routes_advanced == 1
    assert [failure.split(":")[0] for failure in result.failures] == [str(huge)]
    assert Route.objects.get(route_id=small).state == RouteState.IN_TRANSIT
    assert Route.objects.get(route_id=huge).state == RouteState.LOCKED_ENTRY
    assert [(v["routeId"], v["type"]) for _, _, v in sent_by(tenant, STATUS)] == [
        (str(small), "VOYAGE_DEPARTED"),
        (str(small), "DEPARTED"),
    ]


@pytest.mark.django_db(transaction=True)
def test_a_timetable_is_parsed_once_per_version_and_a_reload_is_planned_on_the_new_one():
    """Committed routes' timetables are kept parsed: the next busy tick reads no
    schedule. A reload that changes a route's timetable (same route, new version)
    is planned on the new timetable at once."""
    midnight = MIDNIGHT + dt.timedelta(days=400)  # far from a running stack's beat
    tenant = new_tenant()
    route_id = uuid.uuid4()

    def configure(boarding_window: int) -> None:
        route = independent_route(route_id, [12])
        route = config.RouteConfig(**{**route.__dict__, "boarding_window": boarding_window})
        services.scheduled_configuration_replace(
            tenant=tenant,
            scheduled=config.ScheduledConfig([route], []),
            now=midnight,
            source="test",
        )

    configure(boarding_window=240)  # open 00:00-00:04
    tick.run(midnight + dt.timedelta(milliseconds=100))  # open: read and parsed
    with CaptureQueriesContext(connection) as context:
        tick.run(midnight + dt.timedelta(minutes=4, milliseconds=100))  # locked
    assert Route.objects.get(route_id=route_id).state == RouteState.LOCKED_ENTRY
    assert not any('"schedule"' in q for q in statements_of(context))

    configure(boarding_window=60)  # the new timetable: open 1 min of each 15, not 4

    # the second trip: on the old timetable open until 00:19, on the new one
    # locked at 00:16 and departed at 00:17
    tick.run(midnight + dt.timedelta(minutes=16, seconds=30))
    assert Route.objects.get(route_id=route_id).state == RouteState.LOCKED_ENTRY
    tick.run(midnight + dt.timedelta(minutes=17, seconds=30))
    assert Route.objects.get(route_id=route_id).state == RouteState.IN_TRANSIT
