"""Fixtures of the transport tests."""

from __future__ import annotations

import pytest

from project.tenancy import rows
from transport import services


@pytest.fixture(autouse=True)
def _forget_cached_tenant_ids():
    """Several tests use the example tenant id; its row is rolled back after each
    test, so the process-wide id cache of ``tenant_row`` must not outlive it (on
    PostgreSQL the next row gets a new id)."""
    rows._cache.clear()
    services._configured_tenants.clear()
    yield
    rows._cache.clear()
    services._configured_tenants.clear()
