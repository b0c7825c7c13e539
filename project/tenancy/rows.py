"""Turning a tenant value from the wire into its database row."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from project.tenancy.keys import TenantKey
from project.tenancy.models import Tenant

_cache: dict[TenantKey, int] = {}


def tenant_row(key: TenantKey) -> Tenant:
    """Get or create the row for ``key``; ids are cached for the life of the process.

    Tenant rows are never deleted while anything points at them (PROTECT), so a
    cached id stays valid.
    """
    cached = _cache.get(key)
    if cached is not None:
        tenant = Tenant(
            id=cached,
            uuid=key.id,
            region=key.region,
            major_version=key.major,
            minor_version=key.minor,
        )
        tenant._state.adding = False
        tenant._state.db = "default"
        return tenant
    lookup = {
        "uuid": key.id,
        "region": key.region,
        "major_version": key.major,
        "minor_version": key.minor,
    }
    try:
        with transaction.atomic():
            tenant, _ = Tenant.objects.get_or_create(**lookup)
    except IntegrityError:  # created concurrently by another process
        tenant = Tenant.objects.get(**lookup)
    _cache[key] = tenant.id
    return tenant
