"""Messenger services over the database: every rule and edge case.

Each service is given what its prepare step would have looked up (``looked``):
the cast of ``support.CAST``, or ``None`` for a failed lookup.
"""

from __future__ import annotations

import uuid

import pytest

from messengers import messages, selectors, services, views
from messengers.lookups import Facts
from messengers.models import Character, Member, Messenger
from tests.messengers.support import (
    FIRST,
    INVITE,
    MEMBER_STATUS,
    NIL,
    STATUS,
    all_emitted,
    error,
    looked,
    status,
)
from tests.support import at_most_queries, emitted, new_tenant, values

pytestmark = pytest.mark.django_db

FULL = messages.ERROR_FULL
UNEXPECTED = messages.ERROR_UNEXPECTED
ALREADY_1 = messages.ERROR_ALREADY_JOINED_1
ALREADY_2 = messages.ERROR_ALREADY_JOINED_2


def create(tenant, actor: int, tx: uuid.UUID = NIL, **lookups):
    return services.messenger_create(
        tenant=tenant, transaction_id=tx, actor_id=actor, looked_up=lookups.get("lu", looked(actor))
    )


def join(tenant, actor: int, messenger: int, tx: uuid.UUID = NIL, **lookups):
    return services.messenger_join(
        tenant=tenant,
        transaction_id=tx,
        actor_id=actor,
        messenger_id=messenger,
        looked_up=lookups.get("lu", looked(actor)),
    )


def leave(tenant, actor: int, messenger: int, tx: uuid.UUID = NIL, **lookups):
    return services.messenger_leave(
        tenant=tenant,
        transaction_id=tx,
        actor_id=actor,
        messenger_id=messenger,
        looked_up=lookups.get("lu", looked(actor)),
    )


def invite(tenant, actor: int, target: int, tx: uuid.UUID = NIL, **lookups):
    return services.messenger_request_invite(
        tenant=tenant,
        transaction_id=tx,
        actor_id=actor,
        character_id=target,
        looked_up=lookups.get("lu", looked(actor, target)),
    )


def login(tenant, character: int, channel: int = 1, tx: uuid.UUID = NIL, **lookups):
    return services.character_login(
        tenant=tenant,
        transaction_id=tx,
        character_id=character,
        channel_id=channel,
        looked_up=lookups.get("lu", looked(character)),
    )


def logout(tenant, character: int, tx: uuid.UUID = NIL, **lookups):
    return services.character_logout(
        tenant=tenant,
        transaction_id=tx,
        character_id=character,
        looked_up=lookups.get("lu", looked(character)),
    )


def seats(tenant, messenger_id: int) -> list[tuple[int, int]]:
    """(character, seat) in member-list (insertion) order."""
    return list(
        Member.objects.filter(tenant=tenant, messenger__messenger_id=messenger_id)
        .order_by("id")
        .values_list("character_id", "slot")
    )


# --- CREATE ---------------------------------------------------------------------------


def test_create_seats_the_creator_at_0_and_emits_created_only():
    tenant = new_tenant()
    tx = uuid.uuid4()

    messenger = create(tenant, 1001, tx)

    assert messenger.messenger_id == FIRST
    assert seats(tenant, FIRST) == [(1001, 0)]
    # CREATED implies seat 0: no JOINED; keyed by the messenger id
    assert [(r.key, r.value) for r in emitted(STATUS, tenant)] == [
        (bytes.fromhex("00ca9a3b00000000"), status("CREATED", actor=1001, messenger=FIRST, tx=tx))
    ]
    # and the lookup filled the registry (an upstream defect fixed): offline, channel 0
    record = Character.objects.get(tenant=tenant, character_id=1001)
    assert (record.name, record.world_id, record.channel_id, record.online) == (
        "Alpha",
        0,
        0,
        False,
    )


def test_ids_are_per_tenant_monotonic_and_never_reused():
    tenant, other = new_tenant(), new_tenant()
    # given a messenger that disbanded
    create(tenant, 1001)
    leave(tenant, 1001, FIRST)
    assert not Messenger.objects.filter(tenant=tenant).exists()

    # when more are created, in both tenants
    second = create(tenant, 1002)
    third = create(tenant, 1003)
    elsewhere = create(other, 1001)

    # then ids go on from where they were, and each tenant starts at 1000000000
    assert (second.messenger_id, third.messenger_id) == (FIRST + 1, FIRST + 2)
    assert elsewhere.messenger_id == FIRST
    assert values(STATUS, other) == [status("CREATED", actor=1001, messenger=FIRST)]


def test_create_by_a_member_is_already_joined_1_with_messenger_0():
    tenant = new_tenant()
    create(tenant, 1003)  # world 1

    assert create(tenant, 1003) is None

    assert values(STATUS, tenant)[-1] == error(ALREADY_1, actor=1003, messenger=0, world=1)
    assert emitted(STATUS, tenant)[-1].key == bytes(8)
    assert Messenger.objects.filter(tenant=tenant).count() == 1


def test_create_by_an_unknown_character_is_unexpected_with_world_0():
    tenant = new_tenant()

    assert create(tenant, 4242) is None  # the character service does not know it

    assert values(STATUS, tenant) == [error(UNEXPECTED, actor=4242, messenger=0)]
    assert not Messenger.objects.exists()
    assert not Character.objects.filter(tenant=tenant).exists()


def test_missing_transaction_id_is_echoed_as_the_nil_uuid():
    tenant = new_tenant()
    create(tenant, 1001, NIL)
    assert values(STATUS, tenant)[0]["transactionId"] == "00000000-0000-0000-0000-000000000000"


# --- JOIN -----------------------------------------------------------------------------


def test_joiners_take_the_lowest_free_seat_and_nobody_moves_when_one_leaves():
    tenant = new_tenant()
    create(tenant, 1001)
    tx = uuid.uuid4()

    assert join(tenant, 1002, FIRST, tx).slot == 1
    assert join(tenant, 1003, FIRST).slot == 2
    left = leave(tenant, 1002, FIRST)

    # seat 1 is free; the others keep theirs
    assert left.slot == 1
    assert seats(tenant, FIRST) == [(1001, 0), (1003, 2)]
    # and the next joiner takes seat 1, listed after the others (insertion order)
    assert join(tenant, 1004, FIRST).slot == 1
    assert seats(tenant, FIRST) == [(1001, 0), (1003, 2), (1004, 1)]
    joined, _, left_event, rejoined = values(STATUS, tenant)[1:]
    assert joined == status("JOINED", actor=1002, messenger=FIRST, body={"slot": 1}, tx=tx)
    assert left_event == status("LEFT", actor=1002, messenger=FIRST, body={"slot": 1})
    assert rejoined == status("JOINED", actor=1004, messenger=FIRST, world=2, body={"slot": 1})


def test_a_fourth_joiner_gets_full_capacity_with_the_requested_messenger():
    tenant = new_tenant()
    create(tenant, 1001)
    join(tenant, 1002, FIRST)
    join(tenant, 1003, FIRST)

    assert join(tenant, 1004, FIRST) is None

    assert values(STATUS, tenant)[-1] == error(FULL, actor=1004, messenger=FIRST, world=2)
    assert len(seats(tenant, FIRST)) == 3


def test_join_by_a_member_is_already_joined_2_with_the_current_messenger():
    tenant = new_tenant()
    create(tenant, 1001)
    create(tenant, 1003)  # FIRST + 1, world 1

    # into another messenger, or into its own
    assert join(tenant, 1003, FIRST) is None
    assert join(tenant, 1003, FIRST + 1) is None

    assert values(STATUS, tenant)[-2:] == [
        error(ALREADY_2, actor=1003, messenger=FIRST + 1, world=1),
        error(ALREADY_2, actor=1003, messenger=FIRST + 1, world=1),
    ]
    assert emitted(STATUS, tenant)[-1].key == bytes.fromhex("01ca9a3b00000000")
    assert seats(tenant, FIRST) == [(1001, 0)]


def test_join_of_an_unknown_messenger_is_unexpected():
    tenant = new_tenant()

    assert join(tenant, 1004, 77) is None

    assert [(r.key, r.value) for r in emitted(STATUS, tenant)] == [
        (bytes.fromhex("4d00000000000000"), error(UNEXPECTED, actor=1004, messenger=77, world=2))
    ]


def test_join_by_an_unknown_character_is_unexpected_with_world_0():
    tenant = new_tenant()
    create(tenant, 1001)

    assert join(tenant, 4242, FIRST) is None

    assert values(STATUS, tenant)[-1] == error(UNEXPECTED, actor=4242, messenger=FIRST)


def test_a_replayed_join_answers_already_joined():
    # upstream handles it again; here a redelivered record is deduplicated by the inbox, but the
    # same command sent twice still gets its answer
    tenant = new_tenant()
    create(tenant, 1001)
    join(tenant, 1002, FIRST)
    join(tenant, 1002, FIRST)
    assert values(STATUS, tenant)[-1] == error(ALREADY_2, actor=1002, messenger=FIRST)


# --- LEAVE ----------------------------------------------------------------------------


def test_the_last_leaver_disbands_with_a_left_event():
    tenant = new_tenant()
    create(tenant, 1003)
    tx = uuid.uuid4()

    assert leave(tenant, 1003, FIRST, tx).slot == 0

    assert values(STATUS, tenant)[-1] == status(
        "LEFT", actor=1003, messenger=FIRST, world=1, body={"slot": 0}, tx=tx
    )
    assert not Messenger.objects.filter(tenant=tenant).exists()
    assert not Member.objects.filter(tenant=tenant).exists()


@pytest.mark.parametrize("messenger_id", [FIRST + 1, 0, 55])
def test_leave_of_a_messenger_one_is_not_in_is_unexpected(messenger_id):
    tenant = new_tenant()
    create(tenant, 1001)
    create(tenant, 1002)  # FIRST + 1
    create(tenant, 1003)  # FIRST + 2
    leave(tenant, 1002, FIRST + 1)  # FIRST + 1 disbanded

    # 1003 sits in FIRST + 2; 1004 sits nowhere
    assert leave(tenant, 1003, messenger_id) is None
    assert leave(tenant, 1004, messenger_id) is None

    # never YOU_HAVE_YET_TO_JOIN…
    assert values(STATUS, tenant)[-2:] == [
        error(UNEXPECTED, actor=1003, messenger=messenger_id, world=1),
        error(UNEXPECTED, actor=1004, messenger=messenger_id, world=2),
    ]
    assert seats(tenant, FIRST + 2) == [(1003, 0)]


def test_leave_by_an_unknown_character_is_unexpected_with_world_0():
    tenant = new_tenant()
    create(tenant, 1001)
    assert leave(tenant, 4242, FIRST) is None
    assert values(STATUS, tenant)[-1] == error(UNEXPECTED, actor=4242, messenger=FIRST)


# --- REQUEST_INVITE -------------------------------------------------------------------


def test_invite_without_a_messenger_creates_one_and_sends_the_invite_first():
    tenant = new_tenant()
    tx = uuid.uuid4()

    messenger = invite(tenant, 1003, 1002, tx)

    assert messenger.messenger_id == FIRST
    assert seats(tenant, FIRST) == [(1003, 0)]
    # invite CREATE (world of the inviter, keyed by the messenger), then CREATED
    assert all_emitted(tenant) == [(INVITE, "CREATE"), (STATUS, "CREATED")]
    assert [(r.key, r.value) for r in emitted(INVITE, tenant)] == [
        (
            bytes.fromhex("00ca9a3b00000000"),
            {
                "transactionId": str(tx),
                "worldId": 1,
                "inviteType": "MESSENGER",
                "type": "CREATE",
                "body": {"originatorId": 1003, "targetId": 1002, "referenceId": FIRST},
            },
        )
    ]
    assert values(STATUS, tenant) == [
        status("CREATED", actor=1003, messenger=FIRST, world=1, tx=tx)
    ]


def test_invite_from_a_messenger_with_room_sends_only_the_invite():
    tenant = new_tenant()
    create(tenant, 1001)
    join(tenant, 1002, FIRST)

    assert invite(tenant, 1002, 1003).messenger_id == FIRST

    assert all_emitted(tenant)[-1] == (INVITE, "CREATE")
    assert len(values(STATUS, tenant)) == 2
    assert values(INVITE, tenant)[0]["body"] == {
        "originatorId": 1002,
        "targetId": 1003,
        "referenceId": FIRST,
    }


def test_invite_from_a_full_messenger_is_full_capacity_with_the_targets_world():
    tenant = new_tenant()
    create(tenant, 1001)
    join(tenant, 1002, FIRST)
    join(tenant, 1003, FIRST)

    assert invite(tenant, 1001, 1004) is None

    assert values(STATUS, tenant)[-1] == error(FULL, actor=1001, messenger=FIRST, world=2)
    assert not values(INVITE, tenant)


def test_invite_of_a_seated_target_names_the_target_and_creates_nothing():
    tenant = new_tenant()
    create(tenant, 1005)  # FIRST, world 3

    assert invite(tenant, 1001, 1005) is None

    # actor = inviter, messenger/world/name = the target's; checked before any create
    assert values(STATUS, tenant)[-1] == error(
        ALREADY_2, actor=1001, messenger=FIRST, world=3, name="Echo"
    )
    assert not Member.objects.filter(tenant=tenant, character_id=1001).exists()
    assert Messenger.objects.filter(tenant=tenant).count() == 1


def test_invite_by_an_unknown_inviter_or_of_an_unknown_target_is_unexpected():
    tenant = new_tenant()
    create(tenant, 1001)

    assert invite(tenant, 4242, 1002) is None  # unknown inviter
    assert invite(tenant, 1001, 4343) is None  # unknown target: the inviter's messenger
    assert invite(tenant, 1002, 4343) is None  # unknown target, inviter in none

    assert values(STATUS, tenant)[1:] == [
        error(UNEXPECTED, actor=4242, messenger=0),
        error(UNEXPECTED, actor=1001, messenger=FIRST),
        error(UNEXPECTED, actor=1002, messenger=0),
    ]
    assert Messenger.objects.filter(tenant=tenant).count() == 1
    assert not values(INVITE, tenant)


def test_self_invite_is_not_refused():
    tenant = new_tenant()

    # without a messenger: one is created and the inviter invited to it
    assert invite(tenant, 1002, 1002).messenger_id == FIRST
    assert values(INVITE, tenant)[0]["body"] == {
        "originatorId": 1002,
        "targetId": 1002,
        "referenceId": FIRST,
    }
    # with one: the target check fires with the inviter's own name
    assert invite(tenant, 1002, 1002) is None
    assert values(STATUS, tenant)[-1] == error(ALREADY_2, actor=1002, messenger=FIRST, name="Bravo")


# --- invite ACCEPTED ------------------------------------------------------------------


def accepted(tenant, target: int, reference: int, invite_type: str = "MESSENGER", tx=NIL):
    return services.invite_accepted(
        tenant=tenant,
        transaction_id=tx,
        invite_type=invite_type,
        reference_id=reference,
        target_id=target,
        looked_up=looked(target),
    )


def test_an_accepted_messenger_invite_joins_the_target():
    tenant = new_tenant()
    create(tenant, 1001)
    tx = uuid.uuid4()

    assert accepted(tenant, 1002, FIRST, tx=tx).slot == 1

    assert values(STATUS, tenant)[-1] == status(
        "JOINED", actor=1002, messenger=FIRST, body={"slot": 1}, tx=tx
    )


def test_an_accepted_invite_of_another_type_changes_nothing():
    tenant = new_tenant()
    create(tenant, 1001)

    assert accepted(tenant, 1002, FIRST, invite_type="PARTY") is None

    assert seats(tenant, FIRST) == [(1001, 0)]
    assert len(values(STATUS, tenant)) == 1


def test_an_accepted_invite_into_a_full_messenger_is_full_capacity():
    tenant = new_tenant()
    create(tenant, 1001)
    join(tenant, 1002, FIRST)
    join(tenant, 1003, FIRST)

    assert accepted(tenant, 1004, FIRST) is None

    assert values(STATUS, tenant)[-1] == error(FULL, actor=1004, messenger=FIRST, world=2)


# --- character status events ----------------------------------------------------------


def test_login_marks_online_and_a_seated_member_gets_member_login():
    tenant = new_tenant()
    create(tenant, 1003)
    tx = uuid.uuid4()

    login(tenant, 1003, channel=4, tx=tx)
    login(tenant, 1001, channel=2)  # not seated: no event

    record = Character.objects.get(tenant=tenant, character_id=1003)
    assert (record.online, record.channel_id) == (True, 4)
    assert [(r.key, r.value) for r in emitted(MEMBER_STATUS, tenant)] == [
        (
            bytes.fromhex("00ca9a3b00000000"),
            {
                "transactionId": str(tx),
                "worldId": 1,
                "messengerId": FIRST,
                "characterId": 1003,
                "type": "LOGIN",
                "body": {},
            },
        )
    ]
    assert Character.objects.get(tenant=tenant, character_id=1001).online
    # login never seats anyone
    assert not Member.objects.filter(tenant=tenant, character_id=1001).exists()


def test_login_keeps_the_registry_world():
    tenant = new_tenant()
    create(tenant, 1003)  # world 1 from the character service
    # the record exists, so nothing is looked up; a stale lookup result must not overwrite
    login(tenant, 1003, lu={1003: Facts("Renamed", 9)})
    record = Character.objects.get(tenant=tenant, character_id=1003)
    assert (record.name, record.world_id, record.online) == ("Charlie", 1, True)


def test_login_of_an_unknown_character_does_nothing():
    tenant = new_tenant()
    assert login(tenant, 4242) is None
    assert not Character.objects.filter(tenant=tenant).exists()
    assert not all_emitted(tenant)


def test_logout_of_a_member_sends_member_logout_then_left():
    tenant = new_tenant()
    create(tenant, 1001)
    join(tenant, 1003, FIRST)
    login(tenant, 1003)
    tx = uuid.uuid4()

    logout(tenant, 1003, tx)

    assert all_emitted(tenant)[-2:] == [(MEMBER_STATUS, "LOGOUT"), (STATUS, "LEFT")]
    assert values(MEMBER_STATUS, tenant)[-1] == {
        "transactionId": str(tx),
        "worldId": 1,
        "messengerId": FIRST,
        "characterId": 1003,
        "type": "LOGOUT",
        "body": {},
    }
    assert values(STATUS, tenant)[-1] == status(
        "LEFT", actor=1003, messenger=FIRST, world=1, body={"slot": 1}, tx=tx
    )
    assert seats(tenant, FIRST) == [(1001, 0)]
    assert not Character.objects.get(tenant=tenant, character_id=1003).online
    # and the next login does not rejoin
    login(tenant, 1003)
    assert seats(tenant, FIRST) == [(1001, 0)]


def test_logout_of_the_last_member_disbands():
    tenant = new_tenant()
    create(tenant, 1001)
    logout(tenant, 1001)
    assert not Messenger.objects.filter(tenant=tenant).exists()
    assert values(STATUS, tenant)[-1] == status(
        "LEFT", actor=1001, messenger=FIRST, body={"slot": 0}
    )


def test_logout_of_a_non_member_only_marks_offline():
    tenant = new_tenant()
    login(tenant, 1002)
    logout(tenant, 1002)
    assert not Character.objects.get(tenant=tenant, character_id=1002).online
    assert not all_emitted(tenant)


def test_deleted_character_leaves_like_a_logout_and_keeps_its_record():
    tenant = new_tenant()
    create(tenant, 1001)
    join(tenant, 1002, FIRST)

    # DELETED runs the same service as LOGOUT (handlers)
    logout(tenant, 1002)

    assert all_emitted(tenant)[-2:] == [(MEMBER_STATUS, "LOGOUT"), (STATUS, "LEFT")]
    assert Character.objects.filter(tenant=tenant, character_id=1002).exists()


def test_channel_changed_updates_the_channel_only():
    tenant = new_tenant()
    login(tenant, 1001, channel=1)

    services.character_channel_changed(tenant=tenant, character_id=1001, channel_id=5, looked_up={})
    # a record first made by this path is offline
    services.character_channel_changed(
        tenant=tenant, character_id=1002, channel_id=3, looked_up=looked(1002)
    )

    first = Character.objects.get(tenant=tenant, character_id=1001)
    second = Character.objects.get(tenant=tenant, character_id=1002)
    assert (first.channel_id, first.online) == (5, True)
    assert (second.channel_id, second.online) == (3, False)
    assert not all_emitted(tenant)


# --- operators ------------------------------------------------------------------------


def test_close_lets_every_member_leave_with_left_events():
    tenant = new_tenant()
    create(tenant, 1001)
    join(tenant, 1003, FIRST)
    join(tenant, 1004, FIRST)
    leave(tenant, 1003, FIRST)
    join(tenant, 1005, FIRST)  # seat 1, listed last

    left = services.messenger_close(tenant=tenant, messenger_id=FIRST)

    assert [(m.character_id, m.slot) for m in left] == [(1001, 0), (1004, 2), (1005, 1)]
    events = values(STATUS, tenant)[-3:]
    assert [(e["type"], e["actorId"], e["worldId"], e["body"]) for e in events] == [
        ("LEFT", 1001, 0, {"slot": 0}),
        ("LEFT", 1004, 2, {"slot": 2}),
        ("LEFT", 1005, 3, {"slot": 1}),
    ]
    assert len({e["transactionId"] for e in events}) == 1
    assert uuid.UUID(events[0]["transactionId"]).version == 4
    assert not Messenger.objects.filter(tenant=tenant).exists()
    # they can create or join again
    assert create(tenant, 1004).messenger_id == FIRST + 1
    # closing what does not exist does nothing
    assert services.messenger_close(tenant=tenant, messenger_id=FIRST) == []


def test_tenants_are_isolated():
    tenant, other = new_tenant(), new_tenant(major=84)
    create(tenant, 1001)

    # the same ids in another tenant
    assert join(other, 1002, FIRST) is None
    assert values(STATUS, other) == [error(UNEXPECTED, actor=1002, messenger=FIRST)]
    assert create(other, 1001).messenger_id == FIRST
    assert seats(tenant, FIRST) == [(1001, 0)]


# --- query counts on the hot paths ----------------------------------------------------


def test_hot_paths_run_a_bounded_number_of_queries():
    tenant = new_tenant()
    create(tenant, 1001)
    join(tenant, 1002, FIRST)
    login(tenant, 1003)
    # a join of a known character: lock it, find its seat, lock the messenger, read the
    # seats, insert, emit (and the savepoint around it)
    with at_most_queries(8):
        join(tenant, 1003, FIRST, lu={})
    with at_most_queries(8):
        leave(tenant, 1003, FIRST, lu={})
    for creator in (1003, 1004, 1005):
        create(tenant, creator)
    # a page of messengers with their members and registry records: two queries
    with at_most_queries(2):
        page = list(selectors.messengers(tenant=tenant)[:50])
        [views.messenger_resource(messenger) for messenger in page]
    assert len(page) == 4
