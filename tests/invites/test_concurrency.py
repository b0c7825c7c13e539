"""Invite services racing each other on real connections (one per thread).

On SQLite writers are serialised (IMMEDIATE transactions), so these show the
outcome is right whatever the order; on PostgreSQL the transactions really
interleave and the unique constraint, row locks and SKIP LOCKED do the work.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter

import pytest
from django.utils import timezone

from invites import services
from invites.models import Invite
from project.tenancy.models import TenantSequence
from tests.invites.support import create, events
from tests.support import new_tenant, run_together

pytestmark = pytest.mark.django_db(transaction=True)

OLD = dt.timedelta(seconds=181)


def sweep_until_done(batch_size: int) -> int:
    """Sweep as if OLD had passed: the invites stay young on the real clock, so an
    end-to-end stack running in the same session (its beat sweeps every second)
    leaves them to the racing calls under test."""
    rejected = 0
    later = timezone.now() + OLD
    while True:
        result = services.invites_expire(batch_size=batch_size, now=later)
        rejected += result.rejected
        if not result.more:
            return rejected


def outcomes() -> Counter:
    """How many ACCEPTED / REJECTED events each reference got."""
    return Counter(
        (row.value["referenceId"], row.value["type"])
        for row in events()
        if row.value["type"] != "CREATED"
    )


def test_concurrent_creates_of_one_key_leave_one_invite_and_each_answers_created():
    # given a tenant and eight CREATEs of (2001, PARTY, 5001) from different originators
    tenant = new_tenant()
    originators = list(range(1001, 1009))

    # when they run at the same time
    results = run_together(
        [
            lambda originator=originator: create(
                tenant, originator_id=originator, transaction_id=uuid.uuid4()
            )
            for originator in originators
        ]
    )

    # then one invite exists, every call returned it, and exactly one id was used
    invite = Invite.objects.get()
    assert {result.pk for result in results} == {invite.pk}
    assert invite.invite_id == 1_000_000_000
    assert TenantSequence.objects.get(tenant=tenant).last_value == 1_000_000_000
    # and every command got a CREATED naming the winner's originator
    created = [row.value for row in events(tenant)]
    assert len(created) == len(originators)
    assert {row["body"]["originatorId"] for row in created} == {invite.originator_id}
    assert invite.originator_id in originators


def test_accepts_racing_overlapping_sweeps_answer_each_invite_exactly_once():
    # given twelve invites, expired by the time the sweeps look
    tenant = new_tenant()
    references = list(range(1, 13))
    for reference in references:
        create(tenant, reference_id=reference)

    # when every invite is accepted while two sweeps run in small batches
    def accept(reference: int) -> object:
        return services.invite_accept(
            tenant=tenant,
            transaction_id=uuid.uuid4(),
            world_id=0,
            invite_type="PARTY",
            target_id=2001,
            reference_id=reference,
        )

    results = run_together(
        [lambda reference=reference: accept(reference) for reference in references]
        + [lambda: sweep_until_done(3), lambda: sweep_until_done(3)]
    )

    # then no invite is left and each got exactly one of ACCEPTED or REJECTED
    assert not Invite.objects.exists()
    got = outcomes()
    for reference in references:
        assert got[(reference, "ACCEPTED")] + got[(reference, "REJECTED")] == 1, reference
    assert sum(got.values()) == len(references)
    # and the callers' answers agree with the events
    accepted = [result for result in results[: len(references)] if result is not None]
    swept = results[-2] + results[-1]
    assert len(accepted) == sum(1 for (_, kind) in got if kind == "ACCEPTED")
    assert swept == sum(1 for (_, kind) in got if kind == "REJECTED")


def test_overlapping_sweeps_never_reject_an_invite_twice():
    # given forty invites, expired by the time the sweeps look
    tenant = new_tenant()
    for reference in range(40):
        create(tenant, reference_id=reference)

    # when four sweeps run at once in batches of five
    results = run_together([lambda: sweep_until_done(5) for _ in range(4)])

    # then each invite was rejected exactly once
    assert sum(results) == 40
    assert set(outcomes().values()) == {1}
    assert len(outcomes()) == 40
    assert not Invite.objects.exists()


def test_character_deletion_racing_accepts_and_rejects_answers_each_invite_once():
    # given character 2001 received six invites and sent two
    tenant = new_tenant()
    for reference in range(1, 7):
        create(tenant, originator_id=1000 + reference, reference_id=reference)
    create(tenant, originator_id=2001, target_id=3001, reference_id=7)
    create(tenant, originator_id=2001, target_id=3002, reference_id=8)

    # when 2001 is deleted while it accepts three invites and rejects one
    def accept(reference: int) -> object:
        return services.invite_accept(
            tenant=tenant,
            transaction_id=uuid.uuid4(),
            world_id=0,
            invite_type="PARTY",
            target_id=2001,
            reference_id=reference,
        )

    def reject_from(originator: int) -> object:
        return services.invite_reject(
            tenant=tenant,
            transaction_id=uuid.uuid4(),
            world_id=0,
            invite_type="PARTY",
            target_id=2001,
            originator_id=originator,
        )

    run_together(
        [
            lambda: services.invites_delete_for_character(tenant=tenant, character_id=2001),
            lambda: accept(1),
            lambda: accept(2),
            lambda: accept(3),
            lambda: reject_from(1004),
        ]
    )

    # then every invite is gone and got exactly one answer
    assert not Invite.objects.exists()
    got = outcomes()
    assert sorted(reference for reference, _ in got) == list(range(1, 9))
    assert set(got.values()) == {1}


def test_two_characters_who_invited_each_other_deleted_at_once():
    # given 2001 and 3001 invited each other to many references, in both directions
    tenant = new_tenant()
    for reference in range(1, 21):
        originator, target = (2001, 3001) if reference % 2 else (3001, 2001)
        create(tenant, originator_id=originator, target_id=target, reference_id=reference)

    # when both characters are deleted at the same time, twice over
    results = run_together(
        [
            lambda character=character: services.invites_delete_for_character(
                tenant=tenant, character_id=character
            )
            for character in (2001, 3001, 2001, 3001)
        ]
    )

    # then there is no deadlock, and each invite was rejected exactly once
    assert sum(len(removed) for removed in results) == 20
    assert not Invite.objects.exists()
    assert len(outcomes()) == 20
    assert set(outcomes().values()) == {1}
