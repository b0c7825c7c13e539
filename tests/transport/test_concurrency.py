"""Transport racing itself on real connections (one per thread): concurrent STARTs,
concurrent ticks. On SQLite writers are serialised; on PostgreSQL the row lock, the
unique constraint, the lease and the compare-and-set marker do the work.

Instants are a month ahead of the wall clock, so the beat of an end-to-end stack
running in the same session never takes these routes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import pytest

from tests.support import new_tenant, run_together, sent_by
from tests.transport.support import types
from transport import clock, config, messages, services, tick

pytestmark = pytest.mark.django_db(transaction=True)


def future_midnight() -> dt.datetime:
    today = clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
    return today + dt.timedelta(days=30)


def test_concurrent_starts_never_overfill_an_instance():
    now = future_midnight()
    tenant = new_tenant()
    route_id = uuid.uuid4()
    services.instance_routes_replace(
        tenant=tenant,
        routes=[
            config.InstanceRouteConfig(
                route_id=route_id,
                slug="r",
                name="r",
                start_map_id=1,
                transit_map_ids=[2],
                destination_map_id=3,
                capacity=3,
                boarding_window=30,
                travel=10,
            )
        ],
        now=now,
        source="test",
    )

    def start(character_id: int) -> Callable[[], object]:
        return lambda: (
            services.instance_transport_start(
                tenant=tenant,
                character_id=character_id,
                world_id=0,
                channel_id=1,
                route_id=route_id,
                now=now,
            ).instance.instance_id
        )

    instances = run_together([start(c) for c in range(1, 7)])
    assert sorted(instances.count(i) for i in set(instances)) == [3, 3]
    assert types(tenant, messages.EVENT_TOPIC_INSTANCE_TRANSPORT) == ["STARTED"] * 6


def test_one_character_starting_twice_at_once_boards_once():
    now = future_midnight()
    tenant = new_tenant()
    routes = [uuid.uuid4(), uuid.uuid4()]
    services.instance_routes_replace(
        tenant=tenant,
        routes=[
            config.InstanceRouteConfig(
                route_id=r,
                slug=str(r),
                name="r",
                start_map_id=1,
                transit_map_ids=[2],
                destination_map_id=3,
                capacity=3,
                boarding_window=30,
                travel=10,
            )
            for r in routes
        ],
        now=now,
        source="test",
    )

    def start(route_id: uuid.UUID) -> Callable[[], object]:
        def call() -> object:
            try:
                return services.instance_transport_start(
                    tenant=tenant,
                    character_id=42,
                    world_id=0,
                    channel_id=1,
                    route_id=route_id,
                    now=now,
                )
            except services.StartRefused as exc:
                return exc

        return call

    results = run_together([start(r) for r in routes])
    assert sum(isinstance(r, services.StartRefused) for r in results) == 1
    assert types(tenant, messages.EVENT_TOPIC_INSTANCE_TRANSPORT) == ["STARTED"]


def test_concurrent_ticks_emit_each_transition_once():
    now = future_midnight()
    tenant = new_tenant()
    scheduled = config.parse_scheduled(
        tenant.uuid, config.seed_items("routes"), config.seed_items("vessels")
    )
    services.scheduled_configuration_replace(
        tenant=tenant, scheduled=scheduled, now=now, source="test"
    )
    instant = now + dt.timedelta(milliseconds=300)

    ran = run_together([lambda: tick.run(instant).ran for _ in range(4)])
    # and the compare-and-set alone (no lease) holds too
    later = now + dt.timedelta(minutes=5, seconds=0.5)
    run_together([lambda: tick.advance_routes(now=later) for _ in range(3)])

    assert ran.count(True) >= 1
    status = [v["type"] for _, _, v in sent_by(tenant, messages.EVENT_TOPIC_TRANSPORT_STATUS)]
    assert status.count("ARRIVED") == 6  # the six A sides open at midnight, once each
    assert status.count("DEPARTED") == 6  # and all have departed by 00:05:00.5, once each
