"""Per-tenant id allocation, persistent and never reused."""

from django.db import transaction

from project.tenancy.models import Tenant, TenantSequence

FIRST_ID = 1_000_000_000


def next_id(*, tenant: Tenant, name: str, first: int = FIRST_ID) -> int:
    """Allocate the next id of ``tenant``'s counter ``name``, inside the caller's transaction.

    The counter row is locked until the caller commits, so concurrent allocations
    queue; a rolled-back caller gives its id back.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("next_id must run inside transaction.atomic()")
    TenantSequence.objects.bulk_create(
        [TenantSequence(tenant=tenant, name=name, last_value=first - 1)], ignore_conflicts=True
    )
    sequence = TenantSequence.objects.select_for_update().get(tenant=tenant, name=name)
    sequence.last_value += 1
    sequence.save(update_fields=["last_value"])
    return sequence.last_value


def advance(*, tenant: Tenant, name: str, past: int, first: int = FIRST_ID) -> None:
    """Make ``tenant``'s counter ``name`` hand out ids greater than ``past`` from now on
    (never move it back): ids another system gave out stay theirs alone."""
    TenantSequence.objects.bulk_create(
        [TenantSequence(tenant=tenant, name=name, last_value=first - 1)], ignore_conflicts=True
    )
    TenantSequence.objects.filter(tenant=tenant, name=name, last_value__lt=past).update(
        last_value=past
    )
