"""Fixtures of the in-process platform tests: tenants, echo records, a real Redis."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

import pytest

from project import embedded
from project.tenancy import TenantKey
from project.tenancy.models import Tenant


def new_tenant(
    region: str = "GMS", major: int = 83, minor: int = 1, tenant_uuid: uuid.UUID | None = None
) -> Tenant:
    """A tenant row; a fresh UUID unless given."""
    return Tenant.objects.create(
        uuid=tenant_uuid or uuid.uuid4(), region=region, major_version=major, minor_version=minor
    )


@pytest.fixture
def tenant_key() -> TenantKey:
    """A tenant of its own for each test (``tenants.tenant_row`` caches ids per process)."""
    return TenantKey(uuid.uuid4(), "GMS", 83, 1)


@dataclass(frozen=True)
class Record:
    """A consumed record as the bridge sees it: input data, the shape kafka-python gives."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    timestamp: int | None = None  # the Kafka record timestamp (ms)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """The test run's Redis (REDIS_URL points at ATLAS_TEST_REDIS_PORT).

    The e2e ``stack`` fixture starts Redis on the same port; if something already
    listens there it is reused, else a real redis-server is started for the session.
    """
    port = int(os.environ["ATLAS_TEST_REDIS_PORT"])
    if _listening(port):
        yield port
        return
    process = embedded.start(
        embedded.redis_command(port, tmp_path_factory.mktemp("redis")), port=port
    )
    try:
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
