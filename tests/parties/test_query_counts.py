"""Hot paths stay small: the statements one command or event costs (STYLE: query counts)."""

from __future__ import annotations

import pytest
from django.db import transaction

from parties import services
from tests.parties.support import cache
from tests.support import at_most_queries, new_tenant

pytestmark = pytest.mark.django_db

P1 = 1_000_000_000


@pytest.fixture
def tenant():
    tenant = new_tenant()
    for character_id in range(1001, 1004):
        cache(tenant, character_id)
    services.party_create(tenant=tenant, actor_id=1001)
    services.party_join(tenant=tenant, character_id=1002, party_id=P1)
    return tenant


def test_a_join_costs_a_handful_of_statements(tenant):
    with transaction.atomic(), at_most_queries(9):
        assert services.party_join(tenant=tenant, character_id=1003, party_id=P1)


def test_a_member_level_change_costs_four_statements_and_its_savepoint(tenant):
    # lock the character, read its party, update, emit
    with transaction.atomic(), at_most_queries(6):
        services.character_level_changed(tenant=tenant, character_id=1002, current=40)


def test_a_leader_leaving_a_full_party_does_not_grow_with_its_members(tenant):
    for character_id in range(1003, 1007):
        if character_id > 1003:
            cache(tenant, character_id)
        services.party_join(tenant=tenant, character_id=character_id, party_id=P1)

    # (the party's delete re-checks, as PROTECT, that no member is left)
    with transaction.atomic(), at_most_queries(10):
        services.party_leave(tenant=tenant, character_id=1001, party_id=P1)
