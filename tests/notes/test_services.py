"""Every note operation at service level, against the real database."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from notes import selectors, services
from notes.models import Note
from project.messaging import wire
from tests.notes.support import STATUS_TOPIC, create, sagas, seed_raw, statuses
from tests.support import NIL, emitted, header_dict, new_tenant

pytestmark = pytest.mark.django_db


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def discard(tenant, note_ids, *, character_id=200, world_id=1, channel_id=3):
    return services.notes_discard(
        tenant=tenant,
        world_id=world_id,
        channel_id=channel_id,
        character_id=character_id,
        note_ids=note_ids,
    )


# --- create ---------------------------------------------------------------------------


def test_create_stores_the_note_and_emits_created_with_upstream_bytes():
    tenant = new_tenant()
    tx = uuid.UUID("3b241101-e2bb-4255-8caf-4136c566a962")

    note = create(tenant, character_id=200, sender_id=100, flag=1, transaction_id=tx)

    stored = Note.objects.get(pk=note.pk)
    assert (stored.character_id, stored.sender_id, stored.message, stored.flag) == (
        200,
        100,
        "Thanks for the party!",
        1,
    )
    assert stored.tenant_uuid == tenant.uuid and stored.deleted_at is None
    (record,) = emitted(STATUS_TOPIC, tenant)
    assert record.key == bytes.fromhex("c800000000000000")
    assert record.raw == (
        b'{"transactionId":"3b241101-e2bb-4255-8caf-4136c566a962","characterId":200,'
        b'"type":"CREATED","body":{"noteId":' + str(note.pk).encode() + b',"senderId":100,'
        b'"message":"Thanks for the party!","flag":1,"time":"'
        + wire.go_time(stored.timestamp).encode()
        + b'"}}'
    )
    assert record.headers == header_dict(tenant)
    assert record.value["body"]["time"].endswith("Z")


def test_created_time_is_the_stored_timestamp_and_now():
    tenant = new_tenant()
    before = dt.datetime.now(dt.UTC)
    note = create(tenant)
    after = dt.datetime.now(dt.UTC)
    (event,) = statuses(tenant)
    assert parse_time(event["body"]["time"]) == Note.objects.get(pk=note.pk).timestamp
    assert before <= parse_time(event["body"]["time"]) <= after


def test_rest_create_carries_the_nil_transaction_id():
    tenant = new_tenant()
    create(tenant)
    assert statuses(tenant)[0]["transactionId"] == NIL


@pytest.mark.parametrize(
    ("character_id", "sender_id", "message", "reason"),
    [
        (0, 0, "", "characterId is required"),
        (0, 100, "hi", "characterId is required"),
        (200, 0, "", "senderId is required"),
        (200, 0, "hi", "senderId is required"),
        (200, 100, "", "message is required"),
    ],
)
def test_validation_runs_in_upstream_order_and_stops_at_the_first_failure(
    character_id, sender_id, message, reason
):
    tenant = new_tenant()
    with pytest.raises(services.InvalidNote) as refused:
        create(tenant, character_id=character_id, sender_id=sender_id, message=message)
    assert refused.value.reason == reason
    assert not Note.objects.exists()
    assert statuses(tenant) == []


@pytest.mark.parametrize("message", [" ", "\t", "x" * 200_000, "ünïcødé 🎉 <b>&</b>"])
def test_any_non_empty_message_is_stored_and_echoed_verbatim(message):
    tenant = new_tenant()
    note = create(tenant, message=message)
    assert Note.objects.get(pk=note.pk).message == message
    assert statuses(tenant)[0]["body"]["message"] == message


def test_a_self_note_is_valid():
    tenant = new_tenant()
    note = create(tenant, character_id=7, sender_id=7)
    assert note.pk and statuses(tenant)[0]["type"] == "CREATED"


def test_html_characters_are_escaped_as_go_does():
    tenant = new_tenant()
    create(tenant, message="<a&b>")
    (record,) = emitted(STATUS_TOPIC, tenant)
    assert b'"message":"\\u003ca\\u0026b\\u003e"' in record.raw


def test_ids_are_one_sequence_for_all_tenants_and_never_reused():
    a, b = new_tenant(), new_tenant()
    first = create(a)
    second = create(b)
    services.note_delete(tenant=b, note_id=second.pk)
    third = create(b)
    assert first.pk < second.pk < third.pk
    assert (second.pk - first.pk, third.pk - second.pk) == (1, 1)


def test_command_create_failure_emits_create_failed_and_stores_nothing():
    tenant = new_tenant()
    tx = uuid.uuid4()
    result = services.note_create_command(
        tenant=tenant, transaction_id=tx, character_id=200, sender_id=0, message="x", flag=0
    )
    assert result is None
    assert not Note.objects.exists()
    (record,) = emitted(STATUS_TOPIC, tenant)
    assert record.key == bytes.fromhex("c800000000000000")
    assert record.raw == (
        b'{"transactionId":"' + str(tx).encode() + b'","characterId":200,'
        b'"type":"CREATE_FAILED","body":{"senderId":0,"reason":"senderId is required"}}'
    )
    assert record.headers == header_dict(tenant)


def test_command_create_failure_with_everything_missing_names_character_zero():
    tenant = new_tenant()
    services.note_create_command(
        tenant=tenant,
        transaction_id=uuid.UUID(int=0),
        character_id=0,
        sender_id=0,
        message="",
        flag=0,
    )
    (record,) = emitted(STATUS_TOPIC, tenant)
    assert record.key == b"\0" * 8
    assert record.value == {
        "transactionId": NIL,
        "characterId": 0,
        "type": "CREATE_FAILED",
        "body": {"senderId": 0, "reason": "characterId is required"},
    }


def test_a_nul_character_is_refused_with_the_database_error_as_reason():
    tenant = new_tenant()
    services.note_create_command(
        tenant=tenant,
        transaction_id=uuid.UUID(int=0),
        character_id=200,
        sender_id=100,
        message="a\x00b",
        flag=0,
    )
    assert not Note.objects.exists()
    assert statuses(tenant)[0]["body"] == {"senderId": 100, "reason": services.NUL_REASON}
    with pytest.raises(services.UnstorableNote):
        create(tenant, message="\x00")


def test_a_redelivered_create_stores_a_second_note():
    tenant = new_tenant()
    tx = uuid.uuid4()
    for _ in range(2):
        services.note_create_command(
            tenant=tenant, transaction_id=tx, character_id=200, sender_id=100, message="m", flag=0
        )
    assert Note.objects.filter(tenant=tenant).count() == 2
    assert [e["transactionId"] for e in statuses(tenant)] == [str(tx), str(tx)]


# --- discard --------------------------------------------------------------------------


def test_discard_deletes_emits_deleted_in_list_order_then_one_saga_per_note():
    tenant = new_tenant()
    first = create(tenant, sender_id=100)
    second = create(tenant, sender_id=101)
    before = len(statuses(tenant))

    discarded = discard(tenant, [second.pk, first.pk], world_id=1, channel_id=3)

    assert [n.pk for n in discarded] == [second.pk, first.pk]
    assert not selectors.notes_of_character(tenant=tenant, character_id=200).exists()
    assert Note.objects.filter(pk__in=[first.pk, second.pk], deleted_at__isnull=False).count() == 2
    deleted = statuses(tenant)[before:]
    assert deleted == [
        {"transactionId": NIL, "characterId": 200, "type": "DELETED", "body": {"noteId": n}}
        for n in (second.pk, first.pk)
    ]
    records = emitted(STATUS_TOPIC, tenant)[before:]
    assert all(r.key == bytes.fromhex("c800000000000000") for r in records)
    saga_records = sagas(tenant)
    assert [s.value["steps"][0]["stepId"] for s in saga_records] == [
        f"award-fame-101-{second.pk}",
        f"award-fame-100-{first.pk}",
    ]
    for record, sender in zip(saga_records, (101, 100), strict=True):
        value = record.value
        saga_id = uuid.UUID(value["transactionId"])
        assert saga_id.version == 4
        assert record.key == str(saga_id).encode("ascii")
        assert record.headers == header_dict(tenant)
        step = value["steps"][0]
        assert step["createdAt"] == step["updatedAt"]
        parse_time(step["createdAt"])
        assert record.raw == (
            b'{"transactionId":"' + str(saga_id).encode() + b'",'
            b'"sagaType":"inventory_transaction","initiatedBy":"note-discard-fame",'
            b'"steps":[{"stepId":"' + step["stepId"].encode() + b'","status":"pending",'
            b'"action":"award_fame","payload":{"characterId":' + str(sender).encode() + b","
            b'"worldId":1,"channelId":3,"amount":1},'
            b'"createdAt":"' + step["createdAt"].encode() + b'",'
            b'"updatedAt":"' + step["updatedAt"].encode() + b'"}]}'
        )
    assert saga_records[0].value["transactionId"] != saga_records[1].value["transactionId"]


def test_discard_of_a_self_note_deletes_it_without_a_saga():
    tenant = new_tenant()
    note = create(tenant, character_id=200, sender_id=200)
    discard(tenant, [note.pk])
    assert statuses(tenant)[-1]["type"] == "DELETED"
    assert sagas(tenant) == []


def test_discard_of_a_system_note_deletes_it_without_a_saga():
    """Sender 0 cannot be created; seeded rows are tolerated on read (a deliberate difference)."""
    tenant = new_tenant()
    note = seed_raw(tenant, sender_id=0)
    assert [n.pk for n in discard(tenant, [note.pk])] == [note.pk]
    assert sagas(tenant) == []


def test_two_notes_of_one_sender_make_two_sagas_of_one_fame_each():
    tenant = new_tenant()
    notes = [create(tenant, sender_id=100), create(tenant, sender_id=100)]
    discard(tenant, [n.pk for n in notes])
    assert [s.value["steps"][0]["payload"]["amount"] for s in sagas(tenant)] == [1, 1]


def test_discard_skips_another_characters_note_and_goes_on():
    tenant = new_tenant()
    mine = create(tenant, character_id=200)
    theirs = create(tenant, character_id=300)
    before = len(statuses(tenant))

    discarded = discard(tenant, [theirs.pk, mine.pk], character_id=200)

    assert [n.pk for n in discarded] == [mine.pk]
    assert selectors.note_get(tenant=tenant, note_id=theirs.pk) is not None
    assert [e["body"]["noteId"] for e in statuses(tenant)[before:]] == [mine.pk]
    assert len(sagas(tenant)) == 1


def test_another_characters_note_named_twice_is_skipped_twice():
    """Only a deleted note is gone for the rest of the list; a skipped one is still there."""
    tenant = new_tenant()
    mine = create(tenant, character_id=200)
    theirs = create(tenant, character_id=300)
    assert [n.pk for n in discard(tenant, [theirs.pk, mine.pk, theirs.pk])] == [mine.pk]
    assert selectors.note_get(tenant=tenant, note_id=theirs.pk) is not None


@pytest.mark.parametrize("case", ["unknown", "zero", "duplicate", "deleted", "other tenant"])
def test_discard_is_all_or_nothing(case):
    tenant, other = new_tenant(), new_tenant()
    good = create(tenant)
    bad = {
        "unknown": lambda: good.pk + 1000,
        "zero": lambda: 0,
        "duplicate": lambda: good.pk,
        "deleted": lambda: services.note_delete(tenant=tenant, note_id=create(tenant).pk).pk,
        "other tenant": lambda: create(other).pk,
    }[case]()
    before = len(statuses(tenant))

    assert discard(tenant, [good.pk, bad]) == []

    assert selectors.note_get(tenant=tenant, note_id=good.pk) is not None
    assert len(statuses(tenant)) == before
    assert sagas(tenant) == []
    if case == "other tenant":
        assert selectors.note_get(tenant=other, note_id=bad) is not None


@pytest.mark.parametrize("note_ids", [[], None])
def test_discard_of_nothing_is_a_no_op(note_ids):
    tenant = new_tenant()
    create(tenant)
    before = len(statuses(tenant))
    assert discard(tenant, note_ids or []) == []
    assert len(statuses(tenant)) == before
    assert Note.objects.filter(deleted_at__isnull=True).count() == 1


def test_a_redelivered_discard_fails_on_the_deleted_ids_and_emits_nothing():
    tenant = new_tenant()
    note = create(tenant)
    discard(tenant, [note.pk])
    before = (len(statuses(tenant)), len(sagas(tenant)))
    assert discard(tenant, [note.pk]) == []
    assert (len(statuses(tenant)), len(sagas(tenant))) == before


# --- tenant scoping -------------------------------------------------------------------


def test_notes_are_scoped_by_tenant_id_only():
    tenant = new_tenant()
    same_id_other_version = new_tenant(tenant_uuid=tenant.uuid, region="JMS", major=185)
    other = new_tenant()
    note = create(tenant)

    assert selectors.note_get(tenant=same_id_other_version, note_id=note.pk) is not None
    assert selectors.note_get(tenant=other, note_id=note.pk) is None
    assert discard(other, [note.pk]) == []
    with pytest.raises(services.NoteNotFound):
        services.note_delete(tenant=other, note_id=note.pk)
    # the event of work done under another tenant row carries that tenant's headers
    discard(same_id_other_version, [note.pk])
    (record,) = emitted(STATUS_TOPIC, same_id_other_version)
    assert record.headers == header_dict(same_id_other_version)


# --- character deleted ----------------------------------------------------------------


def test_character_deletion_deletes_all_its_notes_with_one_event_each_by_id():
    tenant = new_tenant()
    notes = [create(tenant, character_id=200, sender_id=100 + i) for i in range(255)]
    kept = create(tenant, character_id=300)
    before = len(statuses(tenant))

    assert services.notes_delete_for_character(tenant=tenant, character_id=200) == 255

    events = statuses(tenant)[before:]
    assert [e["body"]["noteId"] for e in events] == [n.pk for n in notes]
    assert {(e["type"], e["characterId"], e["transactionId"]) for e in events} == {
        ("DELETED", 200, NIL)
    }
    assert not selectors.notes_of_character(tenant=tenant, character_id=200).exists()
    assert selectors.note_get(tenant=tenant, note_id=kept.pk) is not None
    assert sagas(tenant) == []


def test_character_deletion_deletes_in_chunks_all_the_same(monkeypatch):
    monkeypatch.setattr(services, "DELETE_CHUNK", 2)
    tenant = new_tenant()
    ids = [create(tenant).pk for _ in range(5)]
    assert services.notes_delete_for_character(tenant=tenant, character_id=200) == 5
    assert [e["body"]["noteId"] for e in statuses(tenant) if e["type"] == "DELETED"] == ids
    assert not selectors.notes_of_character(tenant=tenant, character_id=200).exists()


def test_character_deletion_without_notes_does_nothing():
    tenant = new_tenant()
    create(tenant, character_id=300)
    before = len(statuses(tenant))
    assert services.notes_delete_for_character(tenant=tenant, character_id=200) == 0
    assert len(statuses(tenant)) == before


# --- update ---------------------------------------------------------------------------


def test_update_overwrites_the_note_resets_the_time_and_emits_updated():
    tenant = new_tenant()
    note = create(tenant, character_id=200, sender_id=100, flag=1)
    old_time = Note.objects.get(pk=note.pk).timestamp

    updated = services.note_update(
        tenant=tenant, note_id=note.pk, character_id=200, sender_id=101, message="Edited", flag=0
    )

    stored = Note.objects.get(pk=note.pk)
    assert (stored.sender_id, stored.message, stored.flag) == (101, "Edited", 0)
    assert stored.timestamp > old_time and updated.timestamp == stored.timestamp
    (record,) = emitted(STATUS_TOPIC, tenant)[1:]
    assert record.key == bytes.fromhex("c800000000000000")
    assert record.raw == (
        b'{"transactionId":"' + NIL.encode() + b'","characterId":200,"type":"UPDATED",'
        b'"body":{"noteId":' + str(note.pk).encode() + b',"senderId":101,"message":"Edited",'
        b'"flag":0,"time":"' + wire.go_time(stored.timestamp).encode() + b'"}}'
    )


def test_update_can_move_a_note_to_another_owner():
    tenant = new_tenant()
    note = create(tenant, character_id=200)
    services.note_update(
        tenant=tenant, note_id=note.pk, character_id=300, sender_id=100, message="m", flag=0
    )
    (record,) = emitted(STATUS_TOPIC, tenant)[1:]
    assert record.key == wire.key_u32(300) and record.value["characterId"] == 300
    assert [n.pk for n in selectors.notes_of_character(tenant=tenant, character_id=300)] == [
        note.pk
    ]


@pytest.mark.parametrize("case", ["unknown", "deleted", "other tenant"])
def test_update_of_a_missing_note_changes_nothing(case):
    tenant = new_tenant()
    note = create(tenant)
    target = {"unknown": note.pk + 1000, "deleted": note.pk, "other tenant": note.pk}[case]
    actor = new_tenant() if case == "other tenant" else tenant
    if case == "deleted":
        services.note_delete(tenant=tenant, note_id=note.pk)
    before = len(statuses())
    with pytest.raises(services.NoteNotFound):
        services.note_update(
            tenant=actor, note_id=target, character_id=200, sender_id=1, message="x", flag=0
        )
    assert len(statuses()) == before
    assert Note.objects.get(pk=note.pk).message == "Thanks for the party!"


def test_update_validates_like_create():
    tenant = new_tenant()
    note = create(tenant)
    with pytest.raises(services.InvalidNote, match="message is required"):
        services.note_update(
            tenant=tenant, note_id=note.pk, character_id=200, sender_id=100, message="", flag=0
        )
    assert len(statuses(tenant)) == 1


# --- delete one -----------------------------------------------------------------------


def test_delete_one_soft_deletes_and_emits_deleted_for_the_owner():
    tenant = new_tenant()
    note = create(tenant, character_id=258)
    services.note_delete(tenant=tenant, note_id=note.pk)

    row = Note.objects.get(pk=note.pk)
    assert row.deleted_at is not None and row.is_read
    (record,) = emitted(STATUS_TOPIC, tenant)[1:]
    assert record.key == bytes.fromhex("0201000000000000")
    assert record.value == {
        "transactionId": NIL,
        "characterId": 258,
        "type": "DELETED",
        "body": {"noteId": note.pk},
    }
    with pytest.raises(services.NoteNotFound):
        services.note_delete(tenant=tenant, note_id=note.pk)
    assert selectors.note_get(tenant=tenant, note_id=note.pk) is None


# --- listing --------------------------------------------------------------------------


def test_listings_are_by_id_and_see_only_live_notes_of_the_tenant():
    tenant, other = new_tenant(), new_tenant()
    a = create(tenant, character_id=200)
    b = create(tenant, character_id=300)
    c = create(tenant, character_id=200)
    create(other, character_id=200)
    services.note_delete(tenant=tenant, note_id=b.pk)
    d = create(tenant, character_id=300)

    assert [n.pk for n in selectors.notes_live(tenant=tenant)] == [a.pk, c.pk, d.pk]
    assert [n.pk for n in selectors.notes_of_character(tenant=tenant, character_id=200)] == [
        a.pk,
        c.pk,
    ]
