"""Every tenant's routes are loaded before transport consumes or serves, as upstream
loads them at start-up: a START that waits in the topic while the bridge (re)starts,
and a route GET right after the web server starts, find their route without any tick.

The load (``tick.configure_at_start``, transport's before-serving hook) is tested
in-process against a stand-in tenants service; then through the real processes: a
bridge started with a START already in its topic, and gunicorn started from nothing.
Those use a tenants service of their own, which the session stack's beat (whose
tick also loads configurations) never asks.
"""

from __future__ import annotations

import logging
import uuid

import pytest

from project.messaging import wire
from project.messaging.models import InboxMessage, OutboxMessage
from project.tenancy import TenantKey
from project.tenancy.rows import tenant_row
from tests.fake_services import FakeServices
from tests.kafka_helpers import headers_of, value_of
from tests.rest_server import RestClient, RestServer
from tests.stack import database_url, serve_topics, stack_of_its_own, wait_for_log
from tests.waiting import wait_until
from transport import config, messages, tick
from transport.models import InstanceCharacter, InstanceRoute, Route, TenantConfiguration

DEADLINE = 60


def tenant_list(fake: FakeServices, *keys: TenantKey) -> None:
    fake.put(
        "tenants",
        {
            "data": [
                {
                    "id": str(key.id),
                    "type": "tenants",
                    "attributes": {
                        "name": "t",
                        "region": key.region,
                        "majorVersion": key.major,
                        "minorVersion": key.minor,
                    },
                }
                for key in keys
            ]
        },
    )


def shipped_configuration(fake: FakeServices, key: TenantKey) -> None:
    """The tenant's configuration in the tenants service: the shipped seed's items."""
    base = f"tenants/{key.id}/configurations"
    for resource in ("routes", "vessels", "instance-routes"):
        fake.put(f"{base}/{resource}", {"data": config.seed_items(resource)}, tenant=key)


def kerning(key: TenantKey) -> uuid.UUID:
    return uuid.uuid5(key.id, "instance-routes/kerning-train-to-square")


# --- in-process ---------------------------------------------------------------------------


@pytest.fixture
def keys() -> list[TenantKey]:
    return [TenantKey(uuid.uuid4(), "GMS", 83, 1), TenantKey(uuid.uuid4(), "JMS", 185, 1)]


@pytest.mark.django_db(transaction=True)
def test_every_tenant_of_the_tenants_service_is_loaded(fake_services, keys):
    tenant_list(fake_services, *keys)
    for key in keys:
        shipped_configuration(fake_services, key)

    assert tick.configure_at_start() is True

    for key in keys:
        tenant = tenant_row(key)
        assert Route.objects.filter(tenant=tenant).count() == 12
        assert InstanceRoute.objects.filter(tenant=tenant, route_id=kerning(key)).exists()
        assert TenantConfiguration.objects.get(tenant=tenant).source == "tenants"


@pytest.mark.django_db(transaction=True)
def test_a_tenants_service_that_cannot_answer_leaves_the_routes_to_the_tick(
    fake_services, keys, caplog
):
    fake_services.put("tenants", status=500)

    with caplog.at_level(logging.WARNING, logger="transport.tick"):
        assert tick.configure_at_start() is False

    assert "start-up: tenant list unavailable, routes left to the tick" in caplog.text
    assert not Route.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_tenants_left_when_the_budget_is_spent_are_left_to_the_tick(fake_services, keys, caplog):
    tenant_list(fake_services, *keys)
    for key in keys:
        shipped_configuration(fake_services, key)

    with caplog.at_level(logging.WARNING, logger="transport.tick"):
        assert tick.configure_at_start(budget_seconds=0) is False

    assert "start-up: 2 of 2 tenants' routes left to the tick" in caplog.text
    assert not Route.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_without_a_tenants_service_known_tenants_get_the_seed(settings):
    settings.SERVICE_URLS = {}
    settings.BASE_SERVICE_URL = ""
    tenant = tenant_row(TenantKey(uuid.uuid4(), "GMS", 83, 1))

    assert tick.configure_at_start() is True

    assert TenantConfiguration.objects.get(tenant=tenant).source == "seed"


@pytest.mark.django_db
def test_the_load_never_runs_inside_a_transaction(fake_services):
    from django.db import transaction

    with transaction.atomic(), pytest.raises(RuntimeError, match="not in a transaction"):
        tick.configure_at_start()
    assert fake_services.requests_to("tenants") == []


# --- through the real processes -------------------------------------------------------------


@pytest.fixture
def tenants_service():
    """A stand-in tenants service of this test's own."""
    fake = FakeServices()
    yield fake
    fake.close()


@pytest.mark.e2e
def test_a_start_waiting_when_the_bridge_starts_finds_its_route(
    kafka_client, tenant_key, tenants_service, tmp_path, settings
):
    # given a tenant the tenants service knows, whose routes nobody has loaded yet
    tenant_list(tenants_service, tenant_key)
    shipped_configuration(tenants_service, tenant_key)
    started = kafka_client.reader(messages.EVENT_TOPIC_INSTANCE_TRANSPORT)
    # and a broker, Redis and worker of the test's own, with no beat (no tick) and no bridge
    own = stack_of_its_own(tmp_path, extra_env=tenants_service.env())
    try:
        serve_topics(own, settings)
        own["worker"].start()
        wait_for_log(own["worker"], "ready.", timeout=DEADLINE)
        assert not InstanceRoute.objects.filter(tenant__uuid=tenant_key.id).exists()

        # when a START for one of its routes waits in the topic as the bridge starts
        start = {
            "transactionId": str(uuid.uuid4()),
            "worldId": 0,
            "characterId": 4711,
            "type": "START",
            "body": {"routeId": str(kerning(tenant_key)), "channelId": 1},
        }
        producer = type(kafka_client)(own.bootstrap)
        try:
            producer.produce(
                messages.COMMAND_TOPIC_INSTANCE_TRANSPORT,
                start,
                key=wire.key_u32(4711),
                headers=tenant_key.kafka_headers(),
            )
        finally:
            producer.close()
        own["bridge"].start()

        # then the bridge loaded the routes before it consumed, and the character boards
        wait_until(
            lambda: InboxMessage.objects.filter(
                tenant__uuid=tenant_key.id, message_type="START", state="done"
            ).exists(),
            timeout=DEADLINE,
            what="the START handled",
        )
        assert InstanceCharacter.objects.filter(
            tenant__uuid=tenant_key.id, character_id=4711
        ).exists()
        output = own["bridge"].output()
        assert output.index("transport: before-serving work done") < output.index("subscribed to")
        # and its STARTED event is published (by the session's relay: one database)
        (event,) = started.wait_for(
            lambda r: headers_of(r).get("TENANT_ID") == str(tenant_key.id).encode()
            and value_of(r)["type"] == "STARTED",
            timeout=DEADLINE,
        )
        assert value_of(event)["characterId"] == 4711
        assert value_of(event)["body"]["routeId"] == str(kerning(tenant_key))
        assert OutboxMessage.objects.filter(
            tenant__uuid=tenant_key.id, message_type="STARTED"
        ).count() == 1
    finally:
        own.close()


@pytest.mark.e2e
def test_a_route_get_right_after_the_web_server_starts_answers_200(
    transactional_db, tenant_key, tenants_service, tmp_path, monkeypatch
):
    # given a tenant the tenants service knows, whose routes nobody has loaded yet
    tenant_list(tenants_service, tenant_key)
    shipped_configuration(tenants_service, tenant_key)
    for name, value in tenants_service.env().items():
        monkeypatch.setenv(name, value)

    # when the web server starts (no bridge, no tick anywhere for this tenant)
    server = RestServer(database_url(), tmp_path)
    client = RestClient(server.url, tenant_key)
    try:
        # then its first answers find the routes
        instance = client.get(f"/api/transports/instance-routes/{kerning(tenant_key)}")
        boat = uuid.uuid5(tenant_key.id, "routes/boat-ellinia-orbis")
        route = client.get(f"/api/transports/routes/{boat}")
        assert instance.status_code == 200
        assert instance.json()["data"]["attributes"]["name"] == "kerning-train-to-square"
        assert route.status_code == 200
        assert route.json()["data"]["id"] == str(boat)
    finally:
        client.close()
        server.close()
