"""Shared fixtures: the real stack (broker, Redis, worker, beat, bridge, relay) and clients.

The stack starts once per session against the test database; end-to-end tests use
``transactional_db`` so the processes see committed data, and each test uses its
own tenant so tests never see each other's messages.
"""

from __future__ import annotations

import sys
import time
import uuid

import pytest

from project.messaging import kafka, registry
from project.tenancy import TenantKey
from tests.fake_services import FakeServices
from tests.kafka_helpers import KafkaClient
from tests.rest_server import RestClient, RestServer
from tests.stack import Stack, database_url, wait_for_log


def _flush_with_retries() -> None:
    """A transactional test's teardown TRUNCATEs every table; on PostgreSQL that can
    deadlock with a write of the e2e stack's processes (beat's periodic work) running
    at the same moment. The flush is rolled back whole then, so trying again is safe."""
    from django.core.management.base import CommandError
    from django.db import OperationalError
    from django.test import testcases

    original = testcases.TransactionTestCase._fixture_teardown

    def teardown(self) -> None:
        # A busy moment (a test that ends while the stack catches up after a broker
        # outage, late in the full suite on PostgreSQL) was seen to deadlock twelve
        # times running over 15 s; after a few tries the stack's running statements
        # are cancelled, which its processes take as a transient failure and retry.
        attempts = 8
        for attempt in range(attempts):
            try:
                return original(self)
            except (CommandError, OperationalError):
                if attempt == attempts - 1:
                    raise
                if attempt >= 2:
                    _cancel_other_statements()
                time.sleep(min(0.2 * (attempt + 1), 1.0))

    testcases.TransactionTestCase._fixture_teardown = teardown


def _cancel_other_statements() -> None:
    """On PostgreSQL: cancel the statements other sessions run in the test database."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, left(query, 200), pg_cancel_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND state = 'active'"
        )
        for pid, query, _ in cursor.fetchall():  # what kept the database busy, for the log
            print(f"teardown flush: cancelled {pid}: {query}", file=sys.stderr)


_flush_with_retries()


@pytest.fixture(scope="session")
def stack(django_db_setup, django_db_blocker, tmp_path_factory, fake_services_server):
    """Every real part, started once; tests may kill and restart single processes.

    The processes look characters, maps, portals and tenants up in the stand-in
    services (``fake_services``), over real HTTP: tests put what they need there
    (``tests.support.given_character``).
    """
    the_stack = Stack(
        tmp_path_factory.mktemp("stack"),
        database_url(),
        "tests.settings",
        extra_env=fake_services_server.env(),
    )
    try:
        the_stack.start_infrastructure()
        kafka.ensure_topics(registry.all_topics())
        the_stack.start_processes()
        wait_for_log(the_stack["bridge"], "subscribed to")
        wait_for_log(the_stack["relay"], "relay is the leader")
        wait_for_log(the_stack["worker"], "ready.")
        wait_for_log(the_stack["lookups"], "ready.")
        yield the_stack
    finally:
        the_stack.close()


@pytest.fixture
def kafka_client(stack, transactional_db):
    client = KafkaClient(stack.bootstrap)
    yield client
    client.close()


@pytest.fixture
def tenant_key() -> TenantKey:
    """A tenant of its own for each test."""
    return TenantKey(uuid.uuid4(), "GMS", 83, 1)


@pytest.fixture
def tenant_headers(tenant_key) -> list[tuple[str, bytes]]:
    return tenant_key.kafka_headers()


@pytest.fixture
def local_directory(settings):
    """No outside service configured: this process's lookups answer from the local
    directory (``tests.support.given_character`` fills it)."""
    settings.SERVICE_URLS = {}
    settings.BASE_SERVICE_URL = ""


@pytest.fixture
def quick_retries(settings):
    """Two attempts per inbox row, retried at once: a row that keeps failing is dead
    within a test's few ``inbox.process`` calls."""
    settings.INBOX_MAX_ATTEMPTS = 2
    settings.INBOX_RETRY_BASE_SECONDS = 0


@pytest.fixture(scope="session")
def rest_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """gunicorn serving the project against the test database, started once."""
    server = RestServer(database_url(), tmp_path_factory.mktemp("rest"))
    yield server
    server.close()


@pytest.fixture
def rest(rest_server, transactional_db, tenant_key):
    """A client of the real HTTP server with this test's tenant headers."""
    client = RestClient(rest_server.url, tenant_key)
    yield client
    client.close()


@pytest.fixture(scope="session")
def fake_services_server():
    server = FakeServices()
    yield server
    server.close()


@pytest.fixture
def fake_services(fake_services_server, settings):
    """The stand-in outside services, empty, and this process's lookups pointed at them."""
    fake_services_server.reset()
    settings.SERVICE_URLS = {
        domain: fake_services_server.url for domain in ("CHARACTERS", "MAPS", "DATA", "TENANTS")
    }
    yield fake_services_server
    fake_services_server.reset()
