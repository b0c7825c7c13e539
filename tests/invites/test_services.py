"""Invite services against the database: every rule, edge case and race.

The emitted record is the outbox row: topic, key bytes, exact value bytes and
headers are asserted there.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from invites import services
from invites.models import Invite
from project.messaging import wire
from project.tenancy.models import TenantSequence
from tests.invites.support import STATUS_TOPIC, create, events
from tests.support import Emitted, header_dict, new_tenant, outbox_rows

pytestmark = pytest.mark.django_db

NIL = uuid.UUID(int=0)
TX = uuid.UUID("7d3e9a52-1c4b-4f8e-a6d2-3b9c0e1f2a4d")
TIMEOUT = dt.timedelta(seconds=180)


@pytest.fixture
def tenant():
    return new_tenant()


def accept(tenant, **overrides):
    arguments = {
        "transaction_id": uuid.uuid4(),
        "world_id": 0,
        "invite_type": "PARTY",
        "target_id": 2001,
        "reference_id": 5001,
    }
    arguments.update(overrides)
    return services.invite_accept(tenant=tenant, **arguments)


def reject(tenant, **overrides):
    arguments = {
        "transaction_id": uuid.uuid4(),
        "world_id": 0,
        "invite_type": "PARTY",
        "target_id": 2001,
        "originator_id": 1001,
    }
    arguments.update(overrides)
    return services.invite_reject(tenant=tenant, **arguments)


def age(invite: Invite, by: dt.timedelta) -> None:
    """Move an invite's creation time into the past."""
    Invite.objects.filter(pk=invite.pk).update(created_at=invite.created_at - by)


def status(row: Emitted) -> tuple:
    body = row.value["body"]
    return (row.value["type"], body["originatorId"], body["targetId"], row.value["referenceId"])


# --- CREATE ---------------------------------------------------------------------------


def test_create_stores_the_invite_and_emits_created_byte_for_byte(tenant):
    # given an empty tenant
    before = timezone.now()

    # when an invite is created
    invite = create(tenant, transaction_id=TX, world_id=3)

    # then it is stored with the first id of the tenant and the creation time
    stored = Invite.objects.get()
    assert stored.pk == invite.pk
    assert (stored.tenant_id, stored.invite_id, stored.invite_type) == (
        tenant.id,
        1_000_000_000,
        "PARTY",
    )
    assert (stored.originator_id, stored.target_id, stored.reference_id, stored.world_id) == (
        1001,
        2001,
        5001,
        3,
    )
    assert before <= stored.created_at <= timezone.now()
    # and exactly one CREATED record, with upstream's field order, key and headers
    (row,) = events()
    (outbox_row,) = outbox_rows(STATUS_TOPIC, tenant)
    assert row.topic == STATUS_TOPIC == "EVENT_TOPIC_INVITE_STATUS"
    assert bytes(row.key) == bytes.fromhex("8913000000000000")
    assert row.raw == (
        b'{"transactionId":"7d3e9a52-1c4b-4f8e-a6d2-3b9c0e1f2a4d","worldId":3,'
        b'"inviteType":"PARTY","referenceId":5001,"type":"CREATED",'
        b'"body":{"originatorId":1001,"targetId":2001}}'
    )
    assert outbox_row.message_type == "CREATED"
    assert outbox_row.tenant_id == tenant.id
    assert row.headers == {
        "TENANT_ID": str(tenant.uuid).encode(),
        "REGION": b"GMS",
        "MAJOR_VERSION": b"\x00\x53",
        "MINOR_VERSION": b"\x00\x01",
    }


def test_duplicate_create_answers_with_the_stored_invite_and_changes_nothing(tenant):
    # given an invite from 1001 to 2001 for party 5001
    first = create(tenant, originator_id=1001, world_id=1)

    # when another originator invites the same target to the same party
    second_tx = uuid.uuid4()
    again = create(tenant, originator_id=1002, world_id=7, transaction_id=second_tx)

    # then there is still one invite, unchanged: originator, world, age and id
    stored = Invite.objects.get()
    assert again.pk == first.pk == stored.pk
    assert (stored.originator_id, stored.world_id, stored.invite_id) == (1001, 1, 1_000_000_000)
    assert stored.created_at == first.created_at
    # and a second CREATED names the stored originator with the new command's tx and world
    assert len(events()) == 2
    assert events()[1].value == {
        "transactionId": str(second_tx),
        "worldId": 7,
        "inviteType": "PARTY",
        "referenceId": 5001,
        "type": "CREATED",
        "body": {"originatorId": 1001, "targetId": 2001},
    }
    # and no id was used: the next new invite gets the next id
    assert create(tenant, reference_id=5002).invite_id == 1_000_000_001


def test_duplicate_create_does_not_extend_the_lifetime(tenant):
    # given an invite 170 s old
    invite = create(tenant)
    age(invite, dt.timedelta(seconds=170))

    # when the same CREATE comes again and 11 s pass
    create(tenant)
    result = services.invites_expire(now=timezone.now() + dt.timedelta(seconds=11))

    # then the invite expires as if the duplicate had not come
    assert result.rejected == 1
    assert not Invite.objects.exists()


def test_invites_with_other_references_or_types_coexist(tenant):
    # given an invite from 1001 to 2001 for party 5001
    create(tenant)

    # when the same pair gets invites for another reference and for another type
    create(tenant, reference_id=5002)
    create(tenant, invite_type="BUDDY")
    create(tenant, invite_type="party")  # types are case-sensitive

    # then all four exist, with consecutive ids, and each emitted CREATED
    assert sorted(Invite.objects.values_list("invite_id", "invite_type", "reference_id")) == [
        (1_000_000_000, "PARTY", 5001),
        (1_000_000_001, "PARTY", 5002),
        (1_000_000_002, "BUDDY", 5001),
        (1_000_000_003, "party", 5001),
    ]
    assert [row.value["type"] for row in events()] == ["CREATED"] * 4


def test_ids_are_per_tenant_and_a_version_is_another_tenant(tenant):
    # given a tenant with two invites, and one with the same uuid but another version
    create(tenant, reference_id=1)
    create(tenant, reference_id=2)
    same_uuid = new_tenant(tenant_uuid=tenant.uuid, major=84)

    # when the other tenant creates the same invite
    other = create(same_uuid, reference_id=1)

    # then it is a new invite, numbered from the start of its own counter
    assert other.invite_id == 1_000_000_000
    assert Invite.objects.filter(tenant=tenant).count() == 2
    assert Invite.objects.filter(tenant=same_uuid).count() == 1
    # and its CREATED carries its own tenant headers
    row = events(same_uuid)[0]
    assert row.headers["MAJOR_VERSION"] == b"\x00\x54"
    assert row.headers["TENANT_ID"] == str(tenant.uuid).encode()


@pytest.mark.parametrize(
    ("field", "bad"),
    [("originator_id", 0), ("target_id", 0), ("invite_type", "")],
)
def test_create_failing_validation_stores_nothing_emits_nothing_uses_no_id(
    tenant, field, bad, caplog
):
    # given an empty tenant
    # when a CREATE fails upstream's builder checks
    result = create(tenant, **{field: bad})

    # then nothing is stored or emitted, no exception, and it is logged
    assert result is None
    assert not Invite.objects.exists()
    assert events() == []
    assert "invite CREATE dropped" in caplog.text
    # and no id was taken (upstream takes one; nothing may rely on it)
    assert not TenantSequence.objects.filter(tenant=tenant).exists()
    assert create(tenant).invite_id == 1_000_000_000


def test_create_with_originator_zero_for_an_existing_key_answers_as_a_duplicate(tenant):
    # given an invite for (2001, PARTY, 5001)
    create(tenant, originator_id=1001)

    # when a CREATE with originator 0 names the same key
    create(tenant, originator_id=0)

    # then, as upstream (duplicate check before validation), CREATED names 1001
    assert Invite.objects.count() == 1
    assert events()[1].value["body"] == {"originatorId": 1001, "targetId": 2001}


def test_create_echoes_a_missing_transaction_id_as_the_nil_uuid(tenant):
    # given a CREATE without transactionId (decoded as the nil UUID)
    # when it is handled
    create(tenant, transaction_id=NIL, reference_id=0, world_id=0)

    # then CREATED carries the nil UUID; reference 0 and world 0 are valid (key all zero)
    (row,) = events()
    assert row.value["transactionId"] == "00000000-0000-0000-0000-000000000000"
    assert bytes(row.key) == bytes(8)


def test_a_character_may_invite_itself(tenant):
    # when originator and target are the same character
    invite = create(tenant, originator_id=2001, target_id=2001)

    # then the invite exists (upstream does not forbid it)
    assert invite is not None
    assert Invite.objects.count() == 1


def test_create_uses_the_environment_of_the_settings_without_a_cause(tenant, settings):
    # given a deployment environment and no message being handled
    settings.ATLAS_ENVIRONMENT = "main"

    # when an invite is created (e.g. from the admin or a test)
    create(tenant)

    # then the record carries it
    assert events()[0].headers["ENVIRONMENT"] == b"main"


# --- ACCEPT ---------------------------------------------------------------------------


def test_accept_deletes_the_invite_and_emits_accepted_with_the_commands_world(tenant):
    # given an invite stored with world 1
    create(tenant, world_id=1)

    # when the target accepts it in world 4
    accepted = accept(tenant, transaction_id=TX, world_id=4)

    # then the invite is gone
    assert accepted.invite_id == 1_000_000_000
    assert not Invite.objects.exists()
    # and ACCEPTED echoes the command's tx and world with the stored parties
    row = events()[-1]
    assert bytes(row.key) == bytes.fromhex("8913000000000000")
    assert row.raw == (
        b'{"transactionId":"7d3e9a52-1c4b-4f8e-a6d2-3b9c0e1f2a4d","worldId":4,'
        b'"inviteType":"PARTY","referenceId":5001,"type":"ACCEPTED",'
        b'"body":{"originatorId":1001,"targetId":2001}}'
    )
    assert row.headers == header_dict(tenant)


def test_accept_twice_answers_once(tenant):
    # given an accepted invite
    create(tenant)
    accept(tenant)

    # when it is accepted again
    again = accept(tenant)

    # then nothing happens
    assert again is None
    assert [row.value["type"] for row in events()] == ["CREATED", "ACCEPTED"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"reference_id": 5002},
        {"target_id": 2002},
        {"invite_type": "BUDDY"},
        {"invite_type": "party"},
    ],
)
def test_accept_of_a_missing_invite_does_nothing(tenant, overrides):
    # given an invite for (2001, PARTY, 5001)
    create(tenant)

    # when an ACCEPT names something else
    result = accept(tenant, **overrides)

    # then nothing changes and nothing is emitted
    assert result is None
    assert Invite.objects.count() == 1
    assert len(events()) == 1


def test_accept_in_another_tenant_does_nothing(tenant):
    # given an invite in one tenant
    create(tenant)

    # when the same ACCEPT arrives for another tenant
    result = accept(new_tenant())

    # then the invite stays
    assert result is None
    assert Invite.objects.count() == 1
    assert len(events()) == 1


def test_accept_deletes_exactly_the_matched_invite(tenant):
    # given one originator with two PARTY invites to the same target (references 5001, 5002)
    create(tenant, reference_id=5001)
    create(tenant, reference_id=5002)

    # when the second reference is accepted
    accept(tenant, reference_id=5002)

    # then exactly that invite is gone (upstream quirk could delete 5001 instead)
    assert list(Invite.objects.values_list("reference_id", flat=True)) == [5001]
    assert events()[-1].value["referenceId"] == 5002
    assert bytes(events()[-1].key) == wire.key_u32(5002)


def test_an_expired_but_unswept_invite_can_still_be_accepted(tenant):
    # given an invite older than the timeout that no sweep removed yet
    invite = create(tenant)
    age(invite, TIMEOUT + dt.timedelta(seconds=5))

    # when it is accepted
    result = accept(tenant)

    # then it is accepted, and a sweep afterwards finds nothing
    assert result is not None
    assert services.invites_expire().rejected == 0
    assert [row.value["type"] for row in events()] == ["CREATED", "ACCEPTED"]


# --- REJECT ---------------------------------------------------------------------------


def test_reject_finds_the_invite_by_originator_and_emits_rejected(tenant):
    # given an invite from 1001 to 2001 for reference 9000, stored in world 2
    create(tenant, reference_id=9000, world_id=2, invite_type="BUDDY")

    # when the target rejects the BUDDY invite from 1001, in world 5
    rejected = reject(tenant, transaction_id=TX, world_id=5, invite_type="BUDDY")

    # then it is gone and REJECTED carries the stored reference with the command's tx and world
    assert rejected.reference_id == 9000
    assert not Invite.objects.exists()
    row = events()[-1]
    assert bytes(row.key) == bytes.fromhex("2823000000000000")
    assert row.raw == (
        b'{"transactionId":"7d3e9a52-1c4b-4f8e-a6d2-3b9c0e1f2a4d","worldId":5,'
        b'"inviteType":"BUDDY","referenceId":9000,"type":"REJECTED",'
        b'"body":{"originatorId":1001,"targetId":2001}}'
    )
    assert row.headers == header_dict(tenant)


@pytest.mark.parametrize(
    "overrides",
    [{"originator_id": 1002}, {"target_id": 2002}, {"invite_type": "BUDDY"}],
)
def test_reject_of_a_missing_invite_does_nothing(tenant, overrides):
    # given an invite from 1001 to 2001 (PARTY)
    create(tenant)

    # when a REJECT names another originator, target or type
    result = reject(tenant, **overrides)

    # then nothing happens
    assert result is None
    assert Invite.objects.count() == 1
    assert len(events()) == 1


def test_reject_with_several_matches_takes_the_oldest(tenant):
    # given three PARTY invites from 1001 to 2001, created in the order 7003, 7001, 7002
    for reference in (7003, 7001, 7002):
        create(tenant, reference_id=reference)

    # when the target rejects the invites from 1001 three times, and once more
    results = [reject(tenant) for _ in range(4)]

    # then they go lowest invite id first (creation order), and the fourth finds none
    assert [r.reference_id if r else None for r in results] == [7003, 7001, 7002, None]
    assert [row.value["referenceId"] for row in events()[3:]] == [7003, 7001, 7002]


# --- character DELETED ----------------------------------------------------------------


def test_character_deletion_rejects_received_then_sent_invites(tenant):
    # given character 2001 received two invites (worlds 1 and 2) and sent one (world 3)
    create(tenant, originator_id=1001, target_id=2001, reference_id=1, world_id=1)
    create(tenant, originator_id=1002, target_id=2001, reference_id=2, world_id=2)
    create(tenant, originator_id=2001, target_id=3001, reference_id=3, world_id=3)
    # and invites that do not involve 2001
    create(tenant, originator_id=1001, target_id=3001, reference_id=4)
    before = len(events())

    # when 2001 is deleted
    removed = services.invites_delete_for_character(tenant=tenant, character_id=2001)

    # then its three invites are gone, received first, and the others stay
    assert [invite.reference_id for invite in removed] == [1, 2, 3]
    assert list(Invite.objects.values_list("reference_id", flat=True)) == [4]
    rows = events()[before:]
    assert [status(row) for row in rows] == [
        ("REJECTED", 1001, 2001, 1),
        ("REJECTED", 1002, 2001, 2),
        ("REJECTED", 2001, 3001, 3),
    ]
    # with the stored worlds, fresh random transaction ids, keys by reference
    assert [row.value["worldId"] for row in rows] == [1, 2, 3]
    transaction_ids = [uuid.UUID(row.value["transactionId"]) for row in rows]
    assert len(set(transaction_ids)) == 3
    assert all(tx.version == 4 for tx in transaction_ids)
    assert [bytes(row.key) for row in rows] == [wire.key_u32(r) for r in (1, 2, 3)]
    assert all(row.headers == header_dict(tenant) for row in rows)


def test_character_deletion_rejects_a_self_invite_once(tenant):
    # given 2001 invited itself
    create(tenant, originator_id=2001, target_id=2001)

    # when 2001 is deleted
    removed = services.invites_delete_for_character(tenant=tenant, character_id=2001)

    # then one invite is removed and one REJECTED emitted
    assert len(removed) == 1
    assert [row.value["type"] for row in events()] == ["CREATED", "REJECTED"]


def test_character_deletion_leaves_other_tenants_alone(tenant):
    # given the same invite in two tenants
    other = new_tenant()
    create(tenant)
    create(other)

    # when 2001 is deleted in the first tenant
    services.invites_delete_for_character(tenant=tenant, character_id=2001)

    # then only that tenant's invite is gone
    assert list(Invite.objects.values_list("tenant_id", flat=True)) == [other.id]
    assert [row.value["type"] for row in events(other)] == ["CREATED"]


def test_character_deletion_without_invites_does_nothing(tenant):
    # when a character with no invites is deleted
    removed = services.invites_delete_for_character(tenant=tenant, character_id=42)

    # then nothing is emitted
    assert removed == []
    assert events() == []


# --- expiry ---------------------------------------------------------------------------


def test_expiry_is_strictly_older_than_the_timeout(tenant):
    # given an invite
    invite = create(tenant)

    # when the sweep runs exactly at the timeout, then just after it
    at_timeout = services.invites_expire(now=invite.created_at + TIMEOUT)
    after = services.invites_expire(now=invite.created_at + TIMEOUT + dt.timedelta(microseconds=1))

    # then it survives the first and is rejected by the second
    assert (at_timeout.rejected, after.rejected) == (0, 1)
    assert not Invite.objects.exists()


def test_expiry_emits_rejected_with_stored_values_new_transaction_and_own_environment(
    tenant, settings
):
    # given an old invite stored with world 9 and the deployment environment "main"
    settings.ATLAS_ENVIRONMENT = "main"
    invite = create(tenant, world_id=9, invite_type="BUDDY", reference_id=1001, transaction_id=TX)
    age(invite, TIMEOUT + dt.timedelta(seconds=1))

    # when the sweep runs
    result = services.invites_expire()

    # then the invite is rejected with stored values and a fresh transaction id
    assert (result.claimed, result.rejected, result.more) == (1, 1, False)
    row = events()[-1]
    body = row.value
    assert uuid.UUID(body["transactionId"]).version == 4
    assert body["transactionId"] != str(TX)
    assert row.raw == (
        b'{"transactionId":"' + body["transactionId"].encode() + b'","worldId":9,'
        b'"inviteType":"BUDDY","referenceId":1001,"type":"REJECTED",'
        b'"body":{"originatorId":1001,"targetId":2001}}'
    )
    assert bytes(row.key) == wire.key_u32(1001)
    assert row.headers == {**header_dict(tenant), "ENVIRONMENT": b"main"}
    # and a fresh root trace
    traceparent = dict(outbox_rows(STATUS_TOPIC)[-1].header_list)["traceparent"]
    assert wire.TraceParent.parse(traceparent) is not None


def test_expiry_leaves_young_invites_alone(tenant, settings):
    # given a young invite and an old one, with a 60 s timeout
    settings.INVITE_TIMEOUT_SECONDS = 60
    old = create(tenant, reference_id=1)
    create(tenant, reference_id=2)
    age(old, dt.timedelta(seconds=61))

    # when the sweep runs
    services.invites_expire()

    # then only the old one is rejected
    assert list(Invite.objects.values_list("reference_id", flat=True)) == [2]
    assert [status(row) for row in events()[2:]] == [("REJECTED", 1001, 2001, 1)]


def test_expiry_uses_each_invites_own_tenant(tenant):
    # given old invites in two tenants
    other = new_tenant(region="JMS", major=185, minor=2)
    for owner in (tenant, other):
        age(create(owner), TIMEOUT + dt.timedelta(seconds=1))

    # when the sweep runs
    services.invites_expire()

    # then each REJECTED carries its invite's tenant
    for owner in (tenant, other):
        (row,) = [row for row in events(owner) if row.value["type"] == "REJECTED"]
        assert row.headers == header_dict(owner)
    assert header_dict(other)["MAJOR_VERSION"] == b"\x00\xb9"


def test_expiry_works_in_batches_oldest_first(tenant):
    # given five expired invites of different ages
    for reference in range(1, 6):
        age(create(tenant, reference_id=reference), TIMEOUT + dt.timedelta(seconds=10 - reference))

    # when the sweep runs with batches of two until a batch is not full
    results = [services.invites_expire(batch_size=2)]
    while results[-1].more:
        results.append(services.invites_expire(batch_size=2))

    # then three batches rejected all five, oldest first
    assert [r.rejected for r in results] == [2, 2, 1]
    assert [row.value["referenceId"] for row in events()[5:]] == [1, 2, 3, 4, 5]
    assert not Invite.objects.exists()


def test_expiry_can_be_limited_to_one_tenant(tenant):
    # given old invites in two tenants
    other = new_tenant()
    for owner in (tenant, other):
        age(create(owner), TIMEOUT + dt.timedelta(seconds=1))

    # when the sweep runs for one tenant
    services.invites_expire(tenant=tenant)

    # then only that tenant's invite is rejected
    assert list(Invite.objects.values_list("tenant_id", flat=True)) == [other.id]
