"""Fixtures of the transport tests."""

from __future__ import annotations

import pytest

from project.tenancy import rows
from transport import services, tick


@pytest.fixture(autouse=True)
def _forget_cached_tenant_ids():
    """Several tests use the example tenant id; its row is rolled back after each
    test, so the process-wide id cache of ``tenant_row`` must not outlive it (on
    PostgreSQL the next row gets a new id); nor may the tick's parsed timetables
    (kept by route pk, which SQLite reuses after a rollback)."""
    rows._cache.clear()
    services._configured_tenants.clear()
    tick._timetables.clear()
    yield
    rows._cache.clear()
    services._configured_tenants.clear()
    tick._timetables.clear()
