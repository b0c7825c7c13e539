"""Party services racing each other on real connections, one per thread.

On SQLite writers are serialised (IMMEDIATE transactions), so these show the
outcome is right whatever the order; on PostgreSQL the transactions really
interleave, and the party row lock plus the compare-and-set on the character's
party do the work. A refusal raised as ``DomainError`` (a lost race) is handled
as the inbox does: its events are emitted; a transient failure is retried.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from parties import services
from parties.models import Character, Party
from project.messaging import errors
from tests.parties.support import as_inbox, cache, statuses
from tests.support import new_tenant, run_together

pytestmark = pytest.mark.django_db(transaction=True)

P1 = 1_000_000_000
FULL = "THE_PARTY_YOURE_TRYING_TO_JOIN_IS_ALREADY_IN_FULL_CAPACITY"


def handled(service, **kwargs) -> object:
    """As the inbox handles a record: refusals emit their events, transient failures
    (a deadlock victim, a lock timeout) are retried."""
    for attempt in range(10):
        try:
            return as_inbox(service, **kwargs)
        except Exception as exc:
            if not errors.is_transient(exc) or attempt == 9:
                raise
            time.sleep(0.05 * (attempt + 1))
    return None


def outcome_types(tenant) -> Counter:
    return Counter(
        event["body"]["type"] if event["type"] == "ERROR" else event["type"]
        for event in statuses(tenant)
    )


def party_numbers(tenant) -> dict[int, int]:
    """Each cached character's party id (0 for none)."""
    return {
        c.character_id: c.party.party_id if c.party else 0
        for c in Character.objects.select_related("party").filter(tenant=tenant)
    }


@pytest.mark.parametrize("joiners", [6, 7, 12])
def test_joining_a_party_of_one_at_once_leaves_six_members_and_capacity_errors(joiners):
    # given a party of one and more characters than places: with six joiners, seven
    # characters in all, one too many
    tenant = new_tenant()
    cache(tenant, 1000)
    services.party_create(tenant=tenant, actor_id=1000)
    joiners = list(range(1001, 1001 + joiners))
    for joiner in joiners:
        cache(tenant, joiner)

    # when all join at the same moment
    results = run_together(
        [
            lambda joiner=joiner: handled(
                services.party_join, tenant=tenant, character_id=joiner, party_id=P1
            )
            for joiner in joiners
        ]
    )

    # then the party has six members and each joiner too many got the capacity error
    party = Party.objects.get(tenant=tenant)
    assert Character.objects.filter(party=party).count() == 6
    assert results.count(True) == 5
    got = outcome_types(tenant)
    assert (got["JOINED"], got[FULL]) == (5, len(joiners) - 5)
    losers = [e["actorId"] for e in statuses(tenant) if e["type"] == "ERROR"]
    assert all(party_numbers(tenant)[loser] == 0 for loser in losers)
    # and positions are distinct: the member order is well defined
    positions = list(Character.objects.filter(party=party).values_list("party_position", flat=True))
    assert len(set(positions)) == 6


def test_two_creates_by_one_character_leave_one_party():
    tenant = new_tenant()
    cache(tenant, 1001)

    run_together(
        [lambda: handled(services.party_create, tenant=tenant, actor_id=1001) for _ in range(2)]
    )

    assert Party.objects.filter(tenant=tenant).count() == 1
    assert party_numbers(tenant)[1001] == P1
    got = outcome_types(tenant)
    assert (got["CREATED"], got["ALREADY_HAVE_JOINED_A_PARTY_1"]) == (1, 1)
    assert [e["partyId"] for e in statuses(tenant) if e["type"] == "CREATED"] == [P1]


def test_joins_racing_a_disband_never_leave_a_member_in_a_deleted_party():
    # given a party of three and four characters who want in
    tenant = new_tenant()
    for character_id in range(1001, 1008):
        cache(tenant, character_id)
    services.party_create(tenant=tenant, actor_id=1001)
    for member in (1002, 1003):
        services.party_join(tenant=tenant, character_id=member, party_id=P1)
    joiners = [1004, 1005, 1006, 1007]

    # when the leader leaves while they join
    run_together(
        [lambda: handled(services.party_leave, tenant=tenant, character_id=1001, party_id=P1)]
        + [
            lambda joiner=joiner: handled(
                services.party_join, tenant=tenant, character_id=joiner, party_id=P1
            )
            for joiner in joiners
        ]
    )

    # then the party is gone and nobody is left in it
    assert not Party.objects.filter(tenant=tenant).exists()
    assert set(party_numbers(tenant).values()) == {0}
    events = statuses(tenant)[3:]
    (disband,) = [e for e in events if e["type"] == "DISBAND"]
    joined = [e["actorId"] for e in events if e["type"] == "JOINED"]
    refused = [e["actorId"] for e in events if e["type"] == "ERROR"]
    # each joiner either got in before the disband (and is listed in it) or was refused
    assert sorted(joined + refused) == joiners
    assert disband["body"]["members"] == [1001, 1002, 1003, *joined]
    # refused: the party was gone, or already full (three got in before the disband)
    reasons = [e["body"]["type"] for e in events if e["type"] == "ERROR"]
    assert reasons.count(FULL) <= (1 if len(joined) == 3 else 0)
    assert set(reasons) <= {"ERROR_UNEXPECTED", FULL}


def test_a_character_never_ends_in_two_parties():
    # given three parties and a party-less character
    tenant = new_tenant()
    for leader in (1001, 1002, 1003):
        cache(tenant, leader)
        services.party_create(tenant=tenant, actor_id=leader)
    cache(tenant, 2001)
    parties = [P1, P1 + 1, P1 + 2]

    # when he joins all three and creates his own at the same time, twice over
    calls = [
        lambda party_id=party_id: handled(
            services.party_join, tenant=tenant, character_id=2001, party_id=party_id
        )
        for party_id in parties * 2
    ] + [lambda: handled(services.party_create, tenant=tenant, actor_id=2001)] * 2
    run_together(calls)

    # then he is in exactly one party, and exactly one call succeeded
    his = party_numbers(tenant)[2001]
    assert his != 0
    in_parties = Character.objects.filter(tenant=tenant, character_id=2001, party__isnull=False)
    assert in_parties.count() == 1
    events = [e for e in statuses(tenant)[3:] if e["actorId"] == 2001]
    successes = [e for e in events if e["type"] in ("JOINED", "CREATED")]
    assert len(successes) == 1 and successes[0]["partyId"] == his
    assert len(events) == len(calls)
    # an extra party exists only if his CREATE won
    created = successes[0]["type"] == "CREATED"
    assert Party.objects.filter(tenant=tenant).count() == 3 + created


def test_an_accepted_invite_and_a_join_racing_for_the_last_place():
    # given a party of five and two characters: one invited (ACCEPTED), one joining
    tenant = new_tenant()
    for character_id in range(1001, 1008):
        cache(tenant, character_id)
    services.party_create(tenant=tenant, actor_id=1001)
    for member in range(1002, 1006):
        services.party_join(tenant=tenant, character_id=member, party_id=P1)

    run_together(
        [
            lambda: handled(
                services.party_invite_accepted,
                tenant=tenant,
                invite_type="PARTY",
                reference_id=P1,
                target_id=1006,
            ),
            lambda: handled(services.party_join, tenant=tenant, character_id=1007, party_id=P1),
        ]
    )

    party = Party.objects.get(tenant=tenant)
    assert Character.objects.filter(party=party).count() == 6
    got = outcome_types(tenant)
    assert (got["JOINED"], got[FULL]) == (4 + 1, 1)


def test_a_members_leave_racing_his_deletion_ends_with_him_gone_and_one_left():
    tenant = new_tenant()
    for character_id in (1001, 1002, 1003):
        cache(tenant, character_id)
    services.party_create(tenant=tenant, actor_id=1001)
    for member in (1002, 1003):
        services.party_join(tenant=tenant, character_id=member, party_id=P1)

    run_together(
        [
            lambda: handled(services.party_leave, tenant=tenant, character_id=1002, party_id=P1),
            lambda: handled(services.character_deleted, tenant=tenant, character_id=1002),
        ]
    )

    assert not Character.objects.filter(tenant=tenant, character_id=1002).exists()
    party = Party.objects.get(tenant=tenant)
    assert list(
        Character.objects.filter(party=party)
        .order_by("party_position")
        .values_list("character_id", flat=True)
    ) == [1001, 1003]
    assert outcome_types(tenant)["LEFT"] == 1


def test_a_storm_of_mixed_operations_keeps_every_invariant():
    # given a party of three, a party of one and six party-less characters
    tenant = new_tenant()
    for character_id in range(1001, 1011):
        cache(tenant, character_id)
    services.party_create(tenant=tenant, actor_id=1001)
    for member in (1002, 1003):
        services.party_join(tenant=tenant, character_id=member, party_id=P1)
    services.party_create(tenant=tenant, actor_id=1004)

    # when joins, leaves, expels, leader changes, creates, invites and character
    # events of the same characters all run at once
    calls = []
    for character_id in range(1005, 1011):
        calls.append(
            lambda c=character_id: handled(
                services.party_join, tenant=tenant, character_id=c, party_id=P1
            )
        )
        calls.append(
            lambda c=character_id: handled(
                services.character_level_changed, tenant=tenant, character_id=c, current=50
            )
        )
    calls += [
        lambda: handled(services.party_leave, tenant=tenant, character_id=1003, party_id=P1),
        lambda: handled(
            services.party_expel, tenant=tenant, actor_id=1001, party_id=P1, character_id=1002
        ),
        lambda: handled(
            services.party_change_leader, tenant=tenant, actor_id=1001, party_id=P1, leader_id=1005
        ),
        lambda: handled(services.party_create, tenant=tenant, actor_id=1006),
        lambda: handled(
            services.party_request_invite, tenant=tenant, actor_id=1004, character_id=1007
        ),
        lambda: handled(services.party_join, tenant=tenant, character_id=1008, party_id=P1 + 1),
        lambda: handled(services.character_login, tenant=tenant, character_id=1001, channel_id=1),
        lambda: handled(services.character_deleted, tenant=tenant, character_id=1009),
    ]
    run_together(calls)

    # then no party is over capacity, every party's leader is one of its members,
    # positions are unique, and every character is in at most one party
    for party in Party.objects.filter(tenant=tenant):
        members = list(Character.objects.filter(party=party))
        assert 1 <= len(members) <= 6
        assert party.leader_id in {m.character_id for m in members}
        assert len({m.party_position for m in members}) == len(members)
    assert Character.objects.filter(tenant=tenant, character_id=1009).count() == 0
