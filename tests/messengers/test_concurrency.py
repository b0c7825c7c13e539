"""Messenger services racing each other on real connections (one per thread).

On SQLite writers are serialised, so these show the outcome is right whatever the
order; on PostgreSQL (``scripts/throwaway_postgres.py``) the transactions really
interleave, and the registry-row lock, the messenger-row lock and the unique keys
do the work: capacity 3, one messenger per character, one CREATE per character.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable

import pytest

from messengers import messages, services
from messengers.models import Member, Messenger
from tests.messengers.support import FIRST, STATUS, looked
from tests.support import new_tenant, run_together, values

pytestmark = pytest.mark.django_db(transaction=True)


def create(tenant, actor: int) -> Callable[[], object]:
    return lambda: services.messenger_create(
        tenant=tenant, transaction_id=uuid.uuid4(), actor_id=actor, looked_up=looked(actor)
    )


def join(tenant, actor: int, messenger_id: int) -> Callable[[], object]:
    return lambda: services.messenger_join(
        tenant=tenant,
        transaction_id=uuid.uuid4(),
        actor_id=actor,
        messenger_id=messenger_id,
        looked_up=looked(actor),
    )


def leave(tenant, actor: int, messenger_id: int) -> Callable[[], object]:
    return lambda: services.messenger_leave(
        tenant=tenant,
        transaction_id=uuid.uuid4(),
        actor_id=actor,
        messenger_id=messenger_id,
        looked_up=looked(actor),
    )


def invite(tenant, actor: int, target: int) -> Callable[[], object]:
    return lambda: services.messenger_request_invite(
        tenant=tenant,
        transaction_id=uuid.uuid4(),
        actor_id=actor,
        character_id=target,
        looked_up=looked(actor, target),
    )


def outcome_types(tenant) -> Counter:
    """How many events of each type (errors by code) the tenant got."""
    return Counter(
        v["body"]["type"] if v["type"] == "ERROR" else v["type"] for v in values(STATUS, tenant)
    )


def assert_consistent(tenant) -> None:
    """Every messenger has 1..3 members on distinct seats 0..2; nobody sits twice."""
    for messenger in Messenger.objects.filter(tenant=tenant):
        slots = list(Member.objects.filter(messenger=messenger).values_list("slot", flat=True))
        assert 1 <= len(slots) <= 3, (messenger.messenger_id, slots)
        assert len(set(slots)) == len(slots)
        assert set(slots) <= {0, 1, 2}
    characters = Member.objects.filter(tenant=tenant).values_list("character_id", flat=True)
    assert len(set(characters)) == len(characters)


def test_four_joining_at_once_end_with_three_members_and_one_full_error():
    # given a messenger of 1001
    tenant = new_tenant()
    services.messenger_create(
        tenant=tenant, transaction_id=uuid.uuid4(), actor_id=1001, looked_up=looked(1001)
    )

    # when four characters join it at the same time
    results = run_together([join(tenant, actor, FIRST) for actor in (1002, 1003, 1004, 1005)])

    # then three are seated, on seats 0, 1 and 2 with the creator, and one got FULL
    joined = [r for r in results if r is not None]
    assert len(joined) == 2
    assert sorted(Member.objects.filter(tenant=tenant).values_list("slot", flat=True)) == [
        0,
        1,
        2,
    ]
    assert outcome_types(tenant) == Counter({"CREATED": 1, "JOINED": 2, messages.ERROR_FULL: 2})
    assert_consistent(tenant)


def test_creates_and_invites_of_one_character_at_once_end_with_one_messenger():
    # given 1001 in no messenger
    tenant = new_tenant()

    # when its CREATEs and REQUEST_INVITEs race (duplicated clicks, two topics)
    results = run_together([create(tenant, 1001), invite(tenant, 1001, 1002)] * 3)

    # then it has exactly one messenger, seated once, and every invite names it
    (messenger,) = Messenger.objects.filter(tenant=tenant)
    assert list(Member.objects.filter(tenant=tenant).values_list("character_id", "slot")) == [
        (1001, 0)
    ]
    counts = outcome_types(tenant)
    assert counts["CREATED"] == 1
    # the CREATEs that lost answer ALREADY_…_1; the invites all went out
    created_by_command = sum(1 for r in results[0::2] if r is not None)
    assert counts[messages.ERROR_ALREADY_JOINED_1] == 3 - created_by_command
    invites = values(messages.COMMAND_TOPIC_INVITE, tenant)
    assert len(invites) == 3
    assert {v["body"]["referenceId"] for v in invites} == {messenger.messenger_id}


def test_a_character_is_never_seated_in_two_messengers():
    # given three messengers with room
    tenant = new_tenant()
    for creator in (1001, 1002, 1003):
        services.messenger_create(
            tenant=tenant, transaction_id=uuid.uuid4(), actor_id=creator, looked_up=looked(creator)
        )

    # when 1004 joins all three, creates its own and is invited by someone, all at once
    run_together(
        [
            join(tenant, 1004, FIRST),
            join(tenant, 1004, FIRST + 1),
            join(tenant, 1004, FIRST + 2),
            create(tenant, 1004),
            invite(tenant, 1004, 1005),
        ]
    )

    # then it sits in exactly one messenger
    assert Member.objects.filter(tenant=tenant, character_id=1004).count() == 1
    assert_consistent(tenant)
    counts = outcome_types(tenant)
    taken = counts["JOINED"] + counts["CREATED"] - 3
    assert taken == 1


def test_joins_leaves_logouts_and_a_close_in_a_crowd_keep_every_invariant():
    # given two full messengers
    tenant = new_tenant()
    for creator, members in ((1001, (1002, 1003)), (1004, (1005, 1006))):
        services.messenger_create(
            tenant=tenant, transaction_id=uuid.uuid4(), actor_id=creator, looked_up=looked(creator)
        )
        messenger_id = Member.objects.get(
            tenant=tenant, character_id=creator
        ).messenger.messenger_id
        for member in members:
            join(tenant, member, messenger_id)()
    first, second = FIRST, FIRST + 1

    # when members leave and log out while outsiders try to join, and an operator
    # closes the second messenger, all at once (no deadlock, no lost seat)
    run_together(
        [
            leave(tenant, 1002, first),
            lambda: services.character_logout(
                tenant=tenant, transaction_id=uuid.uuid4(), character_id=1003, looked_up={}
            ),
            join(tenant, 1007, first),
            join(tenant, 1008, first),
            join(tenant, 1009, first),
            join(tenant, 1007, second),
            leave(tenant, 1005, second),
            lambda: services.messenger_close(tenant=tenant, messenger_id=second),
        ]
    )

    # then every messenger is consistent and the events agree with the seats
    assert_consistent(tenant)
    events = values(STATUS, tenant)
    seated: dict[int, set[int]] = {}
    for event in events:
        if event["type"] in ("CREATED", "JOINED"):
            seated.setdefault(event["messengerId"], set()).add(event["actorId"])
        elif event["type"] == "LEFT":
            seated[event["messengerId"]].discard(event["actorId"])
    stored: dict[int, set[int]] = {}
    for member in Member.objects.filter(tenant=tenant).select_related("messenger"):
        stored.setdefault(member.messenger.messenger_id, set()).add(member.character_id)
    assert {m: s for m, s in seated.items() if s} == stored
    assert second not in stored


def test_new_characters_inviting_each_other_at_once_do_not_deadlock():
    # given characters the registry has never seen, each looked up by both commands
    tenant = new_tenant()
    pairs = [(1001, 1002), (1002, 1001), (1003, 1004), (1004, 1003), (1005, 1001)]

    # when each invites the other at the same time
    results = run_together([invite(tenant, actor, target) for actor, target in pairs])

    # then every call finished (no deadlock), each inviter in at most one messenger
    assert_consistent(tenant)
    made = [r for r in results if r is not None]
    assert Messenger.objects.filter(tenant=tenant).count() == len(made)
    answered = (
        len(values(messages.COMMAND_TOPIC_INVITE, tenant))
        + outcome_types(tenant)[messages.ERROR_ALREADY_JOINED_2]
    )
    assert answered == len(pairs)
