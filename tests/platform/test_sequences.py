"""``sequences.next_id``: per-tenant counters starting at 1000000000."""

from __future__ import annotations

import pytest
from django.db import transaction

from project.tenancy import sequences
from project.tenancy.models import TenantSequence
from tests.support import new_tenant


def allocate(tenant, name: str, **kwargs) -> int:
    with transaction.atomic():
        return sequences.next_id(tenant=tenant, name=name, **kwargs)


@pytest.mark.django_db
def test_the_first_id_is_one_billion_then_one_more_each_time():
    tenant = new_tenant()

    assert [allocate(tenant, "party") for _ in range(3)] == [
        1_000_000_000,
        1_000_000_001,
        1_000_000_002,
    ]
    assert TenantSequence.objects.get(tenant=tenant, name="party").last_value == 1_000_000_002


@pytest.mark.django_db
def test_counters_are_independent_per_tenant_and_per_name():
    # given two tenants with the same UUID but different versions, and two counters
    first = new_tenant()
    other = new_tenant(major=84, tenant_uuid=first.uuid)

    # when ids are allocated in turns
    got = [
        allocate(first, "party"),
        allocate(first, "invite"),
        allocate(other, "party"),
        allocate(first, "party"),
        allocate(other, "party"),
    ]

    # then each (tenant, name) counts on its own
    assert got == [1_000_000_000, 1_000_000_000, 1_000_000_000, 1_000_000_001, 1_000_000_001]


@pytest.mark.django_db
def test_a_counter_can_start_elsewhere():
    tenant = new_tenant()

    assert allocate(tenant, "note", first=1) == 1
    assert allocate(tenant, "note", first=1) == 2


@pytest.mark.django_db(transaction=True)
def test_next_id_outside_a_transaction_raises():
    tenant = new_tenant()

    with pytest.raises(RuntimeError, match=r"inside transaction\.atomic"):
        sequences.next_id(tenant=tenant, name="party")

    assert not TenantSequence.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_allocation_gives_its_id_back():
    tenant = new_tenant()

    with pytest.raises(ZeroDivisionError), transaction.atomic():
        assert sequences.next_id(tenant=tenant, name="party") == 1_000_000_000
        1 / 0  # noqa: B018 - the caller's change fails after the allocation

    assert allocate(tenant, "party") == 1_000_000_000
