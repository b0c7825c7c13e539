"""Notes through the real parts: Kafka → bridge → inbox → worker → outbox → relay → Kafka.

Each test uses its own tenant and reads only that tenant's records.
"""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings

from notes import messages
from notes.models import Note
from project.messaging import wire
from project.messaging.models import InboxMessage
from tests.kafka_helpers import (
    assert_headers_carried_on,
    headers_of,
    of_tenant,
    traced_headers,
    value_of,
)
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e]

NIL = "00000000-0000-0000-0000-000000000000"


def create_command(character_id: int, sender_id: int, message: str, **fields: object) -> dict:
    return {
        "transactionId": str(fields.pop("tx", uuid.uuid4())),
        "worldId": 0,
        "channelId": 0,
        "characterId": character_id,
        "type": "CREATE",
        "body": {"senderId": sender_id, "message": message, "flag": fields.pop("flag", 0)},
        **fields,
    }


def produce_creates(kafka_client, tenant_headers, notes: list[tuple[int, int]]) -> None:
    for character_id, sender_id in notes:
        kafka_client.produce(
            messages.COMMAND_TOPIC_NOTE,
            create_command(character_id, sender_id, f"from {sender_id}"),
            key=wire.key_u32(character_id),
            headers=tenant_headers,
        )


def test_create_answers_created_with_upstream_bytes_key_and_headers(kafka_client, tenant_key):
    statuses = kafka_client.reader(messages.EVENT_TOPIC_NOTE_STATUS)
    trace_id = uuid.uuid4().hex
    tx = uuid.uuid4()
    headers = traced_headers(tenant_key, trace_id)

    # when the saga orchestrator's CREATE arrives
    kafka_client.produce(
        messages.COMMAND_TOPIC_NOTE,
        create_command(200, 100, "Thanks for the party!", tx=tx, flag=1),
        key=wire.key_u32(200),
        headers=headers,
    )

    # then CREATED leaves with the stored note, keyed by the owner
    (created,) = statuses.wait_for(of_tenant(tenant_key, "CREATED"))
    note = Note.objects.get(tenant_uuid=tenant_key.id)
    assert created.key == bytes.fromhex("c800000000000000")
    assert created.value == (
        b'{"transactionId":"' + str(tx).encode() + b'","characterId":200,"type":"CREATED",'
        b'"body":{"noteId":' + str(note.pk).encode() + b',"senderId":100,'
        b'"message":"Thanks for the party!","flag":1,"time":"'
        + wire.go_time(note.timestamp).encode()
        + b'"}}'
    )
    assert_headers_carried_on(created, tenant_key, trace_id)


def test_discard_deletes_and_asks_for_fame_per_note_all_or_nothing(
    kafka_client, tenant_key, tenant_headers
):
    statuses = kafka_client.reader(messages.EVENT_TOPIC_NOTE_STATUS)
    saga_reader = kafka_client.reader(messages.COMMAND_TOPIC_SAGA)
    # given four notes of 200: two from 100, one self-note, and one note of 300
    produce_creates(kafka_client, tenant_headers, [(200, 100), (200, 100), (200, 200), (300, 100)])
    statuses.wait_for(of_tenant(tenant_key, "CREATED"), count=4)
    # (creates of different owners run in parallel: ids are not in production order)
    notes = Note.objects.filter(tenant_uuid=tenant_key.id).order_by("id")
    a, b = notes.filter(character_id=200, sender_id=100).values_list("id", flat=True)
    own = notes.get(character_id=200, sender_id=200).pk
    theirs = notes.get(character_id=300).pk
    ids = sorted([a, b, own, theirs])

    # when a DISCARD names an unknown id among good ones
    discard = {"worldId": 1, "channelId": 3, "characterId": 200, "type": "DISCARD"}
    kafka_client.produce(
        messages.COMMAND_TOPIC_NOTE,
        {**discard, "body": {"noteIds": [a, ids[-1] + 1000]}},
        key=wire.key_u32(200),
        headers=tenant_headers,
    )
    # and then one with three of 200's notes and the note of 300, out of id order
    kafka_client.produce(
        messages.COMMAND_TOPIC_NOTE,
        {**discard, "body": {"noteIds": [b, theirs, own, a]}},
        key=wire.key_u32(200),
        headers=tenant_headers,
    )

    # then the second one deletes 200's three, in list order, skipping 300's
    deleted = statuses.wait_for(of_tenant(tenant_key, "DELETED"), count=3)
    assert [value_of(r) for r in deleted] == [
        {"transactionId": NIL, "characterId": 200, "type": "DELETED", "body": {"noteId": n}}
        for n in (b, own, a)
    ]
    assert {r.key for r in deleted} == {bytes.fromhex("c800000000000000")}
    # and asks for fame for the two notes of 100, not the self-note
    sagas = saga_reader.wait_for(of_tenant(tenant_key), count=2)
    if settings.KAFKA_TOPIC_PARTITIONS > 1:
        # keyed by their transaction ids: over several partitions, in any order
        sagas.sort(key=lambda r: [b, a].index(int(value_of(r)["steps"][0]["stepId"][15:])))
    for record, note_id in zip(sagas, (b, a), strict=True):
        value = value_of(record)
        assert record.key == value["transactionId"].encode("ascii")
        step = value["steps"][0]
        assert record.value == (
            b'{"transactionId":"' + value["transactionId"].encode() + b'",'
            b'"sagaType":"inventory_transaction","initiatedBy":"note-discard-fame",'
            b'"steps":[{"stepId":"award-fame-100-' + str(note_id).encode() + b'",'
            b'"status":"pending","action":"award_fame",'
            b'"payload":{"characterId":100,"worldId":1,"channelId":3,"amount":1},'
            b'"createdAt":"' + step["createdAt"].encode() + b'",'
            b'"updatedAt":"' + step["updatedAt"].encode() + b'"}]}'
        )
        assert headers_of(record)["TENANT_ID"] == str(tenant_key.id).encode()
    # and the failed first one changed nothing and produced nothing
    wait_until(
        lambda: (
            InboxMessage.objects.filter(app="notes", tenant__uuid=tenant_key.id)
            .filter(message_type="DISCARD")
            .filter(state="done")
            .count()
            == 2
        ),
        what="both DISCARDs handled",
    )
    # (all that both DISCARDs and the CREATEs caused, published and read)
    assert len([r for r in statuses.settled(tenant_key) if value_of(r)["type"] == "DELETED"]) == 3
    assert len(saga_reader.settled(tenant_key)) == 2
    live = Note.objects.filter(tenant_uuid=tenant_key.id, deleted_at__isnull=True)
    assert list(live.values_list("id", flat=True)) == [theirs]


def test_character_deleted_removes_all_its_notes_one_event_each(
    kafka_client, tenant_key, tenant_headers
):
    statuses = kafka_client.reader(messages.EVENT_TOPIC_NOTE_STATUS)
    produce_creates(kafka_client, tenant_headers, [(200, 100 + i) for i in range(5)] + [(300, 1)])
    statuses.wait_for(of_tenant(tenant_key, "CREATED"), count=6)
    mine = list(
        Note.objects.filter(tenant_uuid=tenant_key.id, character_id=200)
        .order_by("id")
        .values_list("id", flat=True)
    )

    # when a LOGIN (not for notes) and then the DELETED of 200 arrive
    for type_ in ("LOGIN", "DELETED"):
        kafka_client.produce(
            messages.EVENT_TOPIC_CHARACTER_STATUS,
            {"transactionId": NIL, "worldId": 0, "characterId": 200, "type": type_, "body": {}},
            key=wire.key_u32(200),
            headers=tenant_headers,
        )

    # then one DELETED per note of 200, by id; 300's note stays
    deleted = statuses.wait_for(of_tenant(tenant_key, "DELETED"), count=5)
    assert [value_of(r)["body"]["noteId"] for r in deleted] == mine
    assert {value_of(r)["characterId"] for r in deleted} == {200}
    live = Note.objects.filter(tenant_uuid=tenant_key.id, deleted_at__isnull=True)
    assert list(live.values_list("character_id", flat=True)) == [300]
    assert not InboxMessage.objects.filter(
        app="notes", tenant__uuid=tenant_key.id, message_type="LOGIN"
    ).exists()


def test_bad_input_ends_as_create_failed_or_dead_letter_exactly_as_specified(
    kafka_client, tenant_key, tenant_headers
):
    statuses = kafka_client.reader(messages.EVENT_TOPIC_NOTE_STATUS)
    key = wire.key_u32(4242)
    long_text = "x" * 200_000

    # given bad records: undecodable ones and invalid notes
    dead_inputs = [
        (b"", "empty record value"),
        (b'{"type":"CREATE",', "invalid JSON"),
        ({**create_command(4242, 1, "m"), "transactionId": ""}, "transactionId"),
        ({**create_command(4242, 1, "m"), "type": "create"}, "unknown command"),
    ]
    for value, _reason in dead_inputs:
        kafka_client.produce(messages.COMMAND_TOPIC_NOTE, value, key=key, headers=tenant_headers)
    empty_tx = uuid.uuid4()
    kafka_client.produce(
        messages.COMMAND_TOPIC_NOTE,
        create_command(4242, 7, "", tx=empty_tx),
        key=key,
        headers=tenant_headers,
    )
    # and a very long message
    long_tx = uuid.uuid4()
    kafka_client.produce(
        messages.COMMAND_TOPIC_NOTE,
        create_command(4242, 7, long_text, tx=long_tx),
        key=key,
        headers=tenant_headers,
    )

    # then the empty message is CREATE_FAILED with upstream's reason
    (failed,) = statuses.wait_for(of_tenant(tenant_key, "CREATE_FAILED"))
    assert failed.key == key
    assert value_of(failed) == {
        "transactionId": str(empty_tx),
        "characterId": 4242,
        "type": "CREATE_FAILED",
        "body": {"senderId": 7, "reason": "message is required"},
    }
    # and the very long one is stored and echoed verbatim
    (created,) = statuses.wait_for(of_tenant(tenant_key, "CREATED"))
    assert value_of(created)["transactionId"] == str(long_tx)
    assert value_of(created)["body"]["message"] == long_text
    assert Note.objects.get(tenant_uuid=tenant_key.id).message == long_text

    # and the undecodable ones are dead letters with their reasons, in order
    def dead_letters() -> list[InboxMessage]:
        """Dead rows carrying this test's tenant headers (a dead row has no tenant yet)."""
        rows = InboxMessage.objects.filter(
            app="notes", state="dead", topic=wire.topic_name(messages.COMMAND_TOPIC_NOTE)
        ).order_by("offset")
        ours = str(tenant_key.id).encode()
        return [row for row in rows if wire.header(row.header_list, "TENANT_ID") == ours]

    dead = wait_until(
        lambda: (rows := dead_letters()) and len(rows) == len(dead_inputs) and rows,
        what="dead letters stored",
    )
    for (_value, reason), row in zip(dead_inputs, dead, strict=True):
        assert reason in row.error, row.error


def test_rest_writes_reach_kafka_as_updated_and_deleted(kafka_client, rest, tenant_key):
    """A note created over Kafka, changed and deleted over REST (the real HTTP server)."""
    statuses = kafka_client.reader(messages.EVENT_TOPIC_NOTE_STATUS)
    produce_creates(kafka_client, tenant_key.kafka_headers(), [(200, 100)])
    (created,) = statuses.wait_for(of_tenant(tenant_key, "CREATED"))
    note_id = value_of(created)["body"]["noteId"]

    # when the note is listed, moved to 300 with PATCH, and deleted
    listing = rest.get("/api/characters/200/notes")
    assert [d["id"] for d in listing.json()["data"]] == [str(note_id)]
    patched = rest.patch(
        f"/api/notes/{note_id}",
        json={
            "data": {
                "type": "notes",
                "id": str(note_id),
                "attributes": {"characterId": 300, "senderId": 100, "message": "Edited"},
            }
        },
        headers={"ENVIRONMENT": "main"},
    )
    assert patched.status_code == 200
    assert rest.delete(f"/api/notes/{note_id}").status_code == 204

    # then UPDATED (new owner, its key) and DELETED leave on the status topic
    (updated,) = statuses.wait_for(of_tenant(tenant_key, "UPDATED"))
    assert updated.key == wire.key_u32(300)
    assert value_of(updated) == {
        "transactionId": NIL,
        "characterId": 300,
        "type": "UPDATED",
        "body": {
            "noteId": note_id,
            "senderId": 100,
            "message": "Edited",
            "flag": 0,
            "time": patched.json()["data"]["attributes"]["timestamp"],
        },
    }
    got = headers_of(updated)
    assert got["ENVIRONMENT"] == b"main"
    assert (got["MAJOR_VERSION"], got["MINOR_VERSION"]) == (b"\x00\x53", b"\x00\x01")
    (deleted,) = statuses.wait_for(of_tenant(tenant_key, "DELETED"))
    assert value_of(deleted) == {
        "transactionId": NIL,
        "characterId": 300,
        "type": "DELETED",
        "body": {"noteId": note_id},
    }
