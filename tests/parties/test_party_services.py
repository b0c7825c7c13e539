"""Party commands at the service level: every rule and edge case."""

from __future__ import annotations

import uuid

import pytest

from parties import services
from parties.lookups import LookedUp
from parties.models import Character, Party
from project.messaging import wire
from tests.parties.support import INVITE_TOPIC, STATUS_TOPIC, cache, error, facts, status, statuses
from tests.support import new_tenant, outbox_rows, sent_by, values

pytestmark = pytest.mark.django_db

P1 = 1_000_000_000
P2 = 1_000_000_001


@pytest.fixture
def tenant():
    return new_tenant()


def members(tenant, party_id: int) -> list[int]:
    party = Party.objects.get(tenant=tenant, party_id=party_id)
    return list(
        Character.objects.filter(party=party)
        .order_by("party_position")
        .values_list("character_id", flat=True)
    )


def party_of(tenant, character_id: int) -> int:
    character = Character.objects.select_related("party").get(
        tenant=tenant, character_id=character_id
    )
    return character.party.party_id if character.party else 0


def make_party(tenant, leader: int, *others: int, world: int = 1) -> int:
    """A party led by ``leader`` with ``others`` joined in order; events cleared."""
    for character_id in (leader, *others):
        if not Character.objects.filter(tenant=tenant, character_id=character_id).exists():
            cache(tenant, character_id, world_id=world)
    party = services.party_create(tenant=tenant, actor_id=leader)
    for other in others:
        assert services.party_join(tenant=tenant, character_id=other, party_id=party.party_id)
    from project.messaging.models import OutboxMessage

    OutboxMessage.objects.filter(tenant=tenant).delete()
    return party.party_id


# --- CREATE ---------------------------------------------------------------------------


def test_create_makes_the_actor_leader_of_party_1000000000(tenant):
    cache(tenant, 1001, world_id=3)

    party = services.party_create(tenant=tenant, actor_id=1001)

    assert (party.party_id, party.leader_id) == (P1, 1001)
    assert members(tenant, P1) == [1001]
    (row,) = outbox_rows(STATUS_TOPIC, tenant)
    assert bytes(row.key) == bytes.fromhex("00ca9a3b00000000")
    assert bytes(row.value) == (
        b'{"actorId":1001,"worldId":3,"partyId":1000000000,"type":"CREATED","body":{},'
        b'"transactionId":"00000000-0000-0000-0000-000000000000"}'
    )
    got = dict(row.header_list)
    assert got["TENANT_ID"] == str(tenant.uuid).encode()
    assert (got["MAJOR_VERSION"], got["MINOR_VERSION"]) == (b"\x00\x53", b"\x00\x01")


def test_create_populates_the_cache_from_the_lookup(tenant):
    fetched = {1001: facts(1001, world_id=2, name="Ann", level=44, job_id=210, map_id=100)}

    services.party_create(tenant=tenant, actor_id=1001, looked_up=LookedUp(fetched))

    character = Character.objects.get(tenant=tenant, character_id=1001)
    assert (character.name, character.level, character.job_id, character.world_id) == (
        "Ann",
        44,
        210,
        2,
    )
    assert (character.map_id, character.online) == (100, False)
    assert statuses(tenant) == [status("CREATED", actor=1001, world=2, party=P1)]


def test_create_with_a_failed_lookup_is_unexpected_and_caches_nothing(tenant):
    services.party_create(tenant=tenant, actor_id=1001, looked_up=LookedUp({1001: None}))

    assert statuses(tenant) == [error("ERROR_UNEXPECTED", actor=1001, world=0, party=0)]
    assert outbox_rows(STATUS_TOPIC, tenant)[0].key == wire.key_u32(0)
    assert not Character.objects.exists()
    assert not Party.objects.exists()


def test_create_by_a_member_is_refused_with_party_0(tenant):
    make_party(tenant, 1001, world=4)

    assert services.party_create(tenant=tenant, actor_id=1001) is None

    assert statuses(tenant) == [
        error("ALREADY_HAVE_JOINED_A_PARTY_1", actor=1001, world=4, party=0)
    ]
    assert Party.objects.count() == 1


@pytest.mark.parametrize("job_id", [0, 99, 1000, 1099, 2000, 2001, 2099])
def test_beginners_cannot_create(tenant, job_id):
    cache(tenant, 1001, job_id=job_id, gm=1)  # beginner is checked before GM

    services.party_create(tenant=tenant, actor_id=1001)

    assert statuses(tenant) == [
        error("A_BEGINNER_CANT_CREATE_A_PARTY", actor=1001, world=1, party=0)
    ]
    assert not Party.objects.exists()


@pytest.mark.parametrize("job_id", [100, 110, 900, 1100, 2100, 2200, 3000])
def test_other_jobs_may_create(tenant, job_id):
    cache(tenant, 1001, job_id=job_id)

    assert services.party_create(tenant=tenant, actor_id=1001) is not None


def test_gms_cannot_create(tenant):
    cache(tenant, 1001, gm=2)

    services.party_create(tenant=tenant, actor_id=1001)

    assert statuses(tenant) == [
        error("AS_A_GM_YOURE_FORBIDDEN_FROM_CREATING_A_PARTY", actor=1001, world=1, party=0)
    ]


def test_party_ids_are_per_tenant_sequential_and_never_reused(tenant):
    other = new_tenant()
    for who in (1001, 1002):
        cache(tenant, who)
    cache(other, 1001)

    first = services.party_create(tenant=tenant, actor_id=1001)
    services.party_leave(tenant=tenant, character_id=1001, party_id=first.party_id)
    second = services.party_create(tenant=tenant, actor_id=1001)
    third = services.party_create(tenant=tenant, actor_id=1002)
    elsewhere = services.party_create(tenant=other, actor_id=1001)

    assert [first.party_id, second.party_id, third.party_id] == [P1, P2, P2 + 1]
    assert elsewhere.party_id == P1


# --- JOIN -----------------------------------------------------------------------------


def test_join_appends_the_member_and_emits_joined(tenant):
    party_id = make_party(tenant, 1001, 1002)
    cache(tenant, 1003, world_id=2)  # no cross-world check

    assert services.party_join(tenant=tenant, character_id=1003, party_id=party_id)

    assert members(tenant, party_id) == [1001, 1002, 1003]
    assert statuses(tenant) == [status("JOINED", actor=1003, world=2, party=party_id)]
    assert outbox_rows(STATUS_TOPIC, tenant)[0].key == wire.key_u32(party_id)


def test_beginners_and_gms_may_join(tenant):
    party_id = make_party(tenant, 1001)
    cache(tenant, 1002, job_id=0)
    cache(tenant, 1003, gm=1)

    assert services.party_join(tenant=tenant, character_id=1002, party_id=party_id)
    assert services.party_join(tenant=tenant, character_id=1003, party_id=party_id)


def test_join_with_a_failed_lookup_is_unexpected_with_world_0(tenant):
    party_id = make_party(tenant, 1001)

    services.party_join(
        tenant=tenant, character_id=1002, party_id=party_id, looked_up=LookedUp({1002: None})
    )

    assert statuses(tenant) == [error("ERROR_UNEXPECTED", actor=1002, world=0, party=party_id)]


def test_join_by_a_member_names_his_current_party(tenant):
    first = make_party(tenant, 1001, world=1)
    second = make_party(tenant, 1002, world=2)

    services.party_join(tenant=tenant, character_id=1001, party_id=second)
    services.party_join(tenant=tenant, character_id=1001, party_id=first)

    assert statuses(tenant) == [
        error("ALREADY_HAVE_JOINED_A_PARTY_2", actor=1001, world=1, party=first),
        error("ALREADY_HAVE_JOINED_A_PARTY_2", actor=1001, world=1, party=first),
    ]
    assert members(tenant, second) == [1002]


@pytest.mark.parametrize("party_id", [0, 1_234_567_890])
def test_join_of_an_unknown_party_is_unexpected(tenant, party_id):
    cache(tenant, 1002, world_id=5)

    services.party_join(tenant=tenant, character_id=1002, party_id=party_id)

    assert statuses(tenant) == [error("ERROR_UNEXPECTED", actor=1002, world=5, party=party_id)]
    assert party_of(tenant, 1002) == 0


def test_join_of_a_full_party_is_refused(tenant):
    party_id = make_party(tenant, 1001, 1002, 1003, 1004, 1005, 1006)
    cache(tenant, 1007, world_id=3)

    assert not services.party_join(tenant=tenant, character_id=1007, party_id=party_id)

    assert statuses(tenant) == [
        error(
            "THE_PARTY_YOURE_TRYING_TO_JOIN_IS_ALREADY_IN_FULL_CAPACITY",
            actor=1007,
            world=3,
            party=party_id,
        )
    ]
    assert len(members(tenant, party_id)) == 6
    assert party_of(tenant, 1007) == 0


# --- LEAVE ----------------------------------------------------------------------------


def test_a_member_leaving_emits_left_with_the_commands_transaction(tenant):
    party_id = make_party(tenant, 1001, 1002, 1003)
    tx = uuid.uuid4()

    assert services.party_leave(
        tenant=tenant, character_id=1002, party_id=party_id, transaction_id=tx
    )

    assert members(tenant, party_id) == [1001, 1003]
    assert party_of(tenant, 1002) == 0
    assert statuses(tenant) == [status("LEFT", actor=1002, world=1, party=party_id, tx=str(tx))]


def test_the_leader_leaving_disbands_and_lists_every_former_member(tenant):
    party_id = make_party(tenant, 1001, 1002, 1003)
    tx = uuid.uuid4()

    services.party_leave(tenant=tenant, character_id=1001, party_id=party_id, transaction_id=tx)

    assert statuses(tenant) == [
        status(
            "DISBAND",
            actor=1001,
            world=1,
            party=party_id,
            body={"members": [1001, 1002, 1003]},
            tx=str(tx),
        )
    ]
    assert not Party.objects.filter(tenant=tenant).exists()
    assert [party_of(tenant, c) for c in (1001, 1002, 1003)] == [0, 0, 0]


def test_the_disband_member_list_keeps_party_order_after_a_leader_change(tenant):
    party_id = make_party(tenant, 1001, 1002, 1003)
    services.party_change_leader(tenant=tenant, actor_id=1001, party_id=party_id, leader_id=1003)

    services.party_leave(tenant=tenant, character_id=1003, party_id=party_id)

    assert statuses(tenant)[-1]["body"] == {"members": [1001, 1002, 1003]}


def test_leaving_a_party_one_is_not_in_is_unexpected_and_so_is_leaving_twice(tenant):
    first = make_party(tenant, 1001, 1002)
    second = make_party(tenant, 1003)

    services.party_leave(tenant=tenant, character_id=1002, party_id=second)
    services.party_leave(tenant=tenant, character_id=1002, party_id=first)
    services.party_leave(tenant=tenant, character_id=1002, party_id=first)
    services.party_leave(tenant=tenant, character_id=1002, party_id=0)

    assert statuses(tenant) == [
        error("ERROR_UNEXPECTED", actor=1002, world=1, party=second),
        status("LEFT", actor=1002, world=1, party=first),
        error("ERROR_UNEXPECTED", actor=1002, world=1, party=first),
        error("ERROR_UNEXPECTED", actor=1002, world=1, party=0),
    ]


def test_leave_with_a_failed_lookup_is_unexpected_with_world_0(tenant):
    services.party_leave(
        tenant=tenant,
        character_id=1002,
        party_id=P1,
        transaction_id=uuid.uuid4(),
        looked_up=LookedUp({}),
    )

    # the ERROR carries the nil transaction id, not the command's
    assert statuses(tenant) == [error("ERROR_UNEXPECTED", actor=1002, world=0, party=P1)]


# --- LEAVE with force: expel ----------------------------------------------------------


def test_the_leader_expels_a_member(tenant):
    party_id = make_party(tenant, 1001, 1002, 1003)
    Character.objects.filter(character_id=1003).update(world_id=7)

    assert services.party_expel(tenant=tenant, actor_id=1001, party_id=party_id, character_id=1003)

    assert members(tenant, party_id) == [1001, 1002]
    assert statuses(tenant) == [
        status("EXPEL", actor=1001, world=7, party=party_id, body={"characterId": 1003})
    ]


def test_only_the_leader_may_expel(tenant):
    party_id = make_party(tenant, 1001, 1002, 1003)

    assert not services.party_expel(
        tenant=tenant, actor_id=1002, party_id=party_id, character_id=1003
    )
    assert not services.party_expel(
        tenant=tenant, actor_id=4242, party_id=party_id, character_id=1001
    )

    assert statuses(tenant) == [
        error("ERROR_UNEXPECTED", actor=1002, world=1, party=party_id),
        error("ERROR_UNEXPECTED", actor=4242, world=1, party=party_id),
    ]
    assert members(tenant, party_id) == [1001, 1002, 1003]


def test_the_leader_cannot_expel_himself_while_others_remain(tenant):
    party_id = make_party(tenant, 1001, 1002)

    services.party_expel(tenant=tenant, actor_id=1001, party_id=party_id, character_id=1001)

    assert statuses(tenant) == [error("ERROR_UNEXPECTED", actor=1001, world=1, party=party_id)]
    assert members(tenant, party_id) == [1001, 1002]
    assert Party.objects.get(tenant=tenant).leader_id == 1001


def test_the_last_member_expelling_himself_disbands_with_no_members(tenant):
    party_id = make_party(tenant, 1001)

    services.party_expel(tenant=tenant, actor_id=1001, party_id=party_id, character_id=1001)

    assert statuses(tenant) == [
        status("DISBAND", actor=1001, world=1, party=party_id, body={"members": []})
    ]
    assert not Party.objects.filter(tenant=tenant).exists()
    assert party_of(tenant, 1001) == 0


def test_expelling_a_non_member_or_an_unknown_character_is_unexpected(tenant):
    party_id = make_party(tenant, 1001, 1002)
    cache(tenant, 1003, world_id=6)

    services.party_expel(tenant=tenant, actor_id=1001, party_id=party_id, character_id=1003)
    services.party_expel(
        tenant=tenant,
        actor_id=1001,
        party_id=party_id,
        character_id=0,
        looked_up=LookedUp({0: None}),
    )
    services.party_expel(tenant=tenant, actor_id=1001, party_id=P2, character_id=1002)

    assert statuses(tenant) == [
        error("ERROR_UNEXPECTED", actor=1001, world=6, party=party_id),
        error("ERROR_UNEXPECTED", actor=1001, world=0, party=party_id),
        error("ERROR_UNEXPECTED", actor=1001, world=1, party=P2),
    ]


# --- CHANGE_LEADER --------------------------------------------------------------------


def test_the_leader_hands_over_to_a_member(tenant):
    party_id = make_party(tenant, 1001, 1002)
    Character.objects.filter(character_id=1002).update(world_id=2)

    assert services.party_change_leader(
        tenant=tenant, actor_id=1001, party_id=party_id, leader_id=1002
    )

    assert Party.objects.get(tenant=tenant).leader_id == 1002
    assert statuses(tenant) == [
        status(
            "CHANGE_LEADER",
            actor=1001,
            world=2,
            party=party_id,
            body={"characterId": 1002, "disconnected": False},
        )
    ]
    # the new leader leaving now disbands
    services.party_leave(tenant=tenant, character_id=1002, party_id=party_id)
    assert statuses(tenant)[-1]["type"] == "DISBAND"


def test_re_electing_the_current_leader_still_emits_change_leader(tenant):
    party_id = make_party(tenant, 1001, 1002)

    services.party_change_leader(tenant=tenant, actor_id=1001, party_id=party_id, leader_id=1001)

    assert [s["type"] for s in statuses(tenant)] == ["CHANGE_LEADER"]


def test_only_the_leader_may_change_the_leader(tenant):
    party_id = make_party(tenant, 1001, 1002, 1003)

    services.party_change_leader(tenant=tenant, actor_id=1002, party_id=party_id, leader_id=1003)
    services.party_change_leader(tenant=tenant, actor_id=0, party_id=party_id, leader_id=1003)

    assert statuses(tenant) == [
        error("ERROR_UNEXPECTED", actor=1002, world=1, party=party_id),
        error("ERROR_UNEXPECTED", actor=0, world=1, party=party_id),
    ]
    assert Party.objects.get(tenant=tenant).leader_id == 1001


def test_the_new_leader_must_be_a_member(tenant):
    party_id = make_party(tenant, 1001, 1002)
    cache(tenant, 1003, world_id=4)

    services.party_change_leader(tenant=tenant, actor_id=1001, party_id=party_id, leader_id=1003)
    services.party_change_leader(
        tenant=tenant,
        actor_id=1001,
        party_id=party_id,
        leader_id=1004,
        looked_up=LookedUp({1004: None}),
    )

    assert statuses(tenant) == [
        error("ERROR_UNEXPECTED", actor=1001, world=4, party=party_id),
        error("ERROR_UNEXPECTED", actor=1001, world=0, party=party_id),
    ]


# --- REQUEST_INVITE -------------------------------------------------------------------


def test_an_invite_by_a_partyless_character_creates_his_party_first(tenant):
    cache(tenant, 1001, world_id=2)
    cache(tenant, 1002, world_id=3)

    assert services.party_request_invite(tenant=tenant, actor_id=1001, character_id=1002)

    assert members(tenant, P1) == [1001]
    assert party_of(tenant, 1002) == 0  # joins only when the invite is accepted
    # the invite command goes first, then CREATED
    assert sent_by(tenant) == [
        (
            INVITE_TOPIC,
            wire.key_u32(P1),
            {
                "worldId": 2,
                "inviteType": "PARTY",
                "type": "CREATE",
                "body": {"originatorId": 1001, "targetId": 1002, "referenceId": P1},
            },
        ),
        (STATUS_TOPIC, wire.key_u32(P1), status("CREATED", actor=1001, world=2, party=P1)),
    ]


def test_any_member_may_invite_into_his_party(tenant):
    party_id = make_party(tenant, 1001, 1002)
    cache(tenant, 1003)

    services.party_request_invite(tenant=tenant, actor_id=1002, character_id=1003)

    assert values(INVITE_TOPIC, tenant) == [
        {
            "worldId": 1,
            "inviteType": "PARTY",
            "type": "CREATE",
            "body": {"originatorId": 1002, "targetId": 1003, "referenceId": party_id},
        }
    ]
    assert statuses(tenant) == []


def test_inviting_a_member_of_a_party_names_him_and_his_party(tenant):
    other = make_party(tenant, 1002, world=5)
    Character.objects.filter(character_id=1002).update(name="Bob")
    cache(tenant, 1001)

    services.party_request_invite(tenant=tenant, actor_id=1001, character_id=1002)

    assert statuses(tenant) == [
        error("ALREADY_HAVE_JOINED_A_PARTY_2", actor=1001, world=5, party=other, name="Bob")
    ]
    assert values(INVITE_TOPIC, tenant) == []
    assert Party.objects.count() == 1  # no party was created for the inviter


def test_a_self_invite_with_a_party_is_already_joined(tenant):
    party_id = make_party(tenant, 1001)

    services.party_request_invite(tenant=tenant, actor_id=1001, character_id=1001)

    assert statuses(tenant) == [
        error("ALREADY_HAVE_JOINED_A_PARTY_2", actor=1001, world=1, party=party_id, name="c1001")
    ]


def test_a_self_invite_without_a_party_creates_one_and_invites_himself(tenant):
    cache(tenant, 1001)

    services.party_request_invite(tenant=tenant, actor_id=1001, character_id=1001)

    assert values(INVITE_TOPIC, tenant)[0]["body"] == {
        "originatorId": 1001,
        "targetId": 1001,
        "referenceId": P1,
    }


def test_an_invite_by_a_beginner_without_a_party_is_refused(tenant):
    cache(tenant, 1001, job_id=0)
    cache(tenant, 1002, job_id=0)

    services.party_request_invite(tenant=tenant, actor_id=1001, character_id=1002)

    assert statuses(tenant) == [
        error("A_BEGINNER_CANT_CREATE_A_PARTY", actor=1001, world=1, party=0)
    ]
    assert values(INVITE_TOPIC, tenant) == []


def test_an_invite_into_a_full_party_names_the_invitees_world(tenant):
    party_id = make_party(tenant, 1001, 1002, 1003, 1004, 1005, 1006)
    cache(tenant, 1007, world_id=9)

    services.party_request_invite(tenant=tenant, actor_id=1001, character_id=1007)

    assert statuses(tenant) == [
        error(
            "THE_PARTY_YOURE_TRYING_TO_JOIN_IS_ALREADY_IN_FULL_CAPACITY",
            actor=1001,
            world=9,
            party=party_id,
        )
    ]
    assert values(INVITE_TOPIC, tenant) == []


def test_beginners_and_gms_may_be_invited(tenant):
    party_id = make_party(tenant, 1001)
    cache(tenant, 1002, job_id=0)
    cache(tenant, 1003, gm=5)

    assert services.party_request_invite(tenant=tenant, actor_id=1001, character_id=1002)
    assert services.party_request_invite(tenant=tenant, actor_id=1001, character_id=1003)

    assert [v["body"]["targetId"] for v in values(INVITE_TOPIC, tenant)] == [1002, 1003]
    assert {v["body"]["referenceId"] for v in values(INVITE_TOPIC, tenant)} == {party_id}


def test_failed_lookups_of_inviter_and_invitee(tenant):
    party_id = make_party(tenant, 1001)

    services.party_request_invite(
        tenant=tenant, actor_id=1009, character_id=1001, looked_up=LookedUp({})
    )
    services.party_request_invite(
        tenant=tenant, actor_id=1001, character_id=1008, looked_up=LookedUp({1008: None})
    )

    assert statuses(tenant) == [
        error("ERROR_UNEXPECTED", actor=1009, world=0, party=0),
        error("ERROR_UNEXPECTED", actor=1001, world=0, party=party_id),
    ]


# --- invite ACCEPTED ------------------------------------------------------------------


def test_an_accepted_party_invite_joins_and_other_invite_types_are_ignored(tenant):
    party_id = make_party(tenant, 1001)
    cache(tenant, 1002)

    services.party_invite_accepted(
        tenant=tenant, invite_type="BUDDY", reference_id=party_id, target_id=1002
    )
    services.party_invite_accepted(
        tenant=tenant, invite_type="PARTY", reference_id=party_id, target_id=1002
    )

    assert members(tenant, party_id) == [1001, 1002]
    assert statuses(tenant) == [status("JOINED", actor=1002, world=1, party=party_id)]


# --- operator actions -----------------------------------------------------------------


def test_an_operator_disband_is_the_leader_leaving(tenant):
    party_id = make_party(tenant, 1001, 1002)

    assert services.party_disband(tenant=tenant, party_id=party_id)
    assert not services.party_disband(tenant=tenant, party_id=party_id)

    assert statuses(tenant) == [
        status("DISBAND", actor=1001, world=1, party=party_id, body={"members": [1001, 1002]})
    ]


def test_an_operator_expel_is_the_leader_expelling(tenant):
    party_id = make_party(tenant, 1001, 1002)

    assert services.party_expel_by_operator(tenant=tenant, character_id=1002)
    assert not services.party_expel_by_operator(tenant=tenant, character_id=1002)

    assert statuses(tenant) == [
        status("EXPEL", actor=1001, world=1, party=party_id, body={"characterId": 1002})
    ]
