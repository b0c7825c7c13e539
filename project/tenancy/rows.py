"""Turning a tenant value from the wire into its database row."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from project.tenancy.keys import TenantKey
from project.tenancy.models import Tenant

_cache: dict[TenantKey, int] = {}
# Rows this process created in a transaction not yet committed (it may roll back).
_uncommitted: set[TenantKey] = set()


def _known(key: TenantKey, pk: int) -> Tenant:
    tenant = Tenant(
        id=pk,
        uuid=key.id,
        region=key.region,
        major_version=key.major,
        minor_version=key.minor,
    )
    tenant._state.adding = False
    tenant._state.db = "default"
    return tenant


# No row has this id: rows of a tenant never seen select nothing.
UNSEEN_TENANT_ID = 0


def existing_tenant_row(key: TenantKey) -> Tenant:
    """The row for ``key`` if there is one, else a row that is not stored (id 0),
    for reads: filtering by it finds nothing, and nothing is created."""
    cached = _cache.get(key)
    if cached is not None:
        return _known(key, cached)
    found = Tenant.objects.filter(**_lookup(key)).values_list("id", flat=True).first()
    if found is None:
        return _known(key, UNSEEN_TENANT_ID)
    if key not in _uncommitted:
        _cache[key] = found
    return _known(key, found)


def _lookup(key: TenantKey) -> dict:
    return {
        "uuid": key.id,
        "region": key.region,
        "major_version": key.major,
        "minor_version": key.minor,
    }


def tenant_row(key: TenantKey) -> Tenant:
    """Get or create the row for ``key``; ids are cached for the life of the process.

    Tenant rows are never deleted while anything points at them (PROTECT), so a
    cached id stays valid. Inside a transaction the id is cached once it commits:
    a row created by a transaction that rolls back is not remembered.
    """
    cached = _cache.get(key)
    if cached is not None:
        return _known(key, cached)
    lookup = _lookup(key)
    created = False
    try:
        with transaction.atomic():
            tenant, created = Tenant.objects.get_or_create(**lookup)
    except IntegrityError:  # created concurrently by another process
        tenant = Tenant.objects.get(**lookup)
    pk = tenant.id
    if created and transaction.get_connection().in_atomic_block:
        # Remembered once the row commits; until then a find is not cached either.
        _uncommitted.add(key)

        def committed() -> None:
            _uncommitted.discard(key)
            _cache[key] = pk

        transaction.on_commit(committed)
    elif key not in _uncommitted:
        _cache[key] = pk
    return tenant
