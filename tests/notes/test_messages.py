"""Records on the consumed topics, decoded and handled in-process.

``deliver`` runs the platform's decoder and the notes handler exactly as the
worker does, without a broker: bad input must end as a dead letter with its
reason (project decision) and change nothing; domain failures of CREATE end as
CREATE_FAILED.
"""

from __future__ import annotations

import uuid

import pytest

from notes import messages
from notes.models import Note
from project.tenancy import TenantKey
from project.tenancy.rows import tenant_row
from tests.notes.support import STATUS_TOPIC, deliver, sagas, statuses
from tests.support import NIL, emitted

pytestmark = pytest.mark.django_db

NOTE = messages.COMMAND_TOPIC_NOTE
CHARACTER = messages.EVENT_TOPIC_CHARACTER_STATUS


@pytest.fixture
def key() -> TenantKey:
    return TenantKey(uuid.uuid4(), "GMS", 83, 1)


@pytest.fixture
def headers(key) -> list[tuple[str, bytes]]:
    return key.kafka_headers()


def create_command(**overrides: object) -> dict:
    command = {
        "transactionId": "3b241101-e2bb-4255-8caf-4136c566a962",
        "worldId": 0,
        "channelId": 0,
        "characterId": 200,
        "type": "CREATE",
        "body": {"senderId": 100, "message": "Thanks for the party!", "flag": 1},
    }
    body = overrides.pop("body", {})
    command.update(overrides)
    command["body"] = {**command["body"], **body} if isinstance(body, dict) else body
    return command


def discard_command(note_ids: object, **overrides: object) -> dict:
    return {
        "worldId": 1,
        "channelId": 3,
        "characterId": 200,
        "type": "DISCARD",
        "body": {"noteIds": note_ids},
        **overrides,
    }


def test_the_upstream_create_example_creates_a_note(headers, key):
    assert deliver(NOTE, create_command(), headers) == ""
    note = Note.objects.get(tenant_uuid=key.id)
    assert (note.character_id, note.sender_id, note.message, note.flag) == (
        200,
        100,
        "Thanks for the party!",
        1,
    )
    (event,) = statuses()
    assert event["transactionId"] == "3b241101-e2bb-4255-8caf-4136c566a962"
    assert event["body"]["noteId"] == note.pk


def test_keys_match_case_insensitively(headers):
    command = {"TYPE": "CREATE", "CharacterID": 5, "Body": {"SENDERID": 6, "message": "m"}}
    assert deliver(NOTE, command, headers) == ""
    assert Note.objects.get().character_id == 5


def test_create_with_only_a_type_is_create_failed_for_character_zero(headers):
    assert deliver(NOTE, {"type": "CREATE"}, headers) == ""
    assert statuses() == [
        {
            "transactionId": NIL,
            "characterId": 0,
            "type": "CREATE_FAILED",
            "body": {"senderId": 0, "reason": "characterId is required"},
        }
    ]
    assert not Note.objects.exists()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"senderId": 0}, "senderId is required"),
        ({"message": ""}, "message is required"),
        ({"message": None}, "message is required"),
        ({"senderId": None, "message": ""}, "senderId is required"),
    ],
)
def test_an_invalid_create_ends_as_create_failed_with_the_reason(headers, body, reason):
    assert deliver(NOTE, create_command(body=body), headers) == ""
    (event,) = statuses()
    assert event["type"] == "CREATE_FAILED"
    assert event["transactionId"] == "3b241101-e2bb-4255-8caf-4136c566a962"
    assert event["body"]["reason"] == reason
    assert not Note.objects.exists()


def test_a_very_long_message_is_stored_and_echoed(headers):
    text = "long " * 40_000
    assert deliver(NOTE, create_command(body={"message": text}), headers) == ""
    assert Note.objects.get().message == text
    assert statuses()[0]["body"]["message"] == text


@pytest.mark.parametrize(
    ("value", "reason_part"),
    [
        (b"", "empty record value"),
        (None, "empty record value"),
        (b"not json", "invalid JSON"),
        (b"[]", "must be an object"),
        (b'{"type":"CREATE"} trailing', "invalid JSON"),
        (b"null", "must be an object"),
        (create_command(transactionId=""), "transactionId"),
        (create_command(transactionId="nope"), "transactionId"),
        (create_command(body={"flag": 256}), "flag"),
        (create_command(body={"flag": -1}), "flag"),
        (create_command(body={"senderId": 1.5}), "senderId"),
        (create_command(body={"senderId": 1.0}), "senderId"),
        (create_command(body={"senderId": 4294967296}), "senderId"),
        (create_command(characterId="1"), "characterId"),
        (create_command(characterId=-1), "characterId"),
        (create_command(worldId=256), "worldId"),
        (create_command(body={"message": 5}), "message"),
        (create_command(body="x"), "body"),
        (discard_command(["x"]), "noteIds"),
        (discard_command("1"), "noteIds"),
        (discard_command([1.5]), "noteIds"),
        (create_command(type="UPDATE"), "unknown command type 'UPDATE'"),
        (create_command(type="create"), "unknown command type 'create'"),
        ({"worldId": 0}, "unknown command type ''"),
    ],
)
def test_bad_commands_are_dead_letters_and_change_nothing(headers, value, reason_part):
    reason = deliver(NOTE, value, headers)
    assert reason_part in reason
    assert not Note.objects.exists()
    assert statuses() == [] and sagas() == []


def test_a_bad_field_of_the_other_types_body_does_not_matter(headers):
    """Each type is decoded with its own body shape."""
    command = create_command()
    command["body"]["noteIds"] = ["x"]
    assert deliver(NOTE, command, headers) == ""
    assert Note.objects.count() == 1


def test_missing_tenant_headers_make_a_dead_letter():
    assert "tenant" in deliver(NOTE, create_command(), [])
    assert not Note.objects.exists()


def test_discard_through_the_handler_echoes_world_and_channel_into_the_saga(headers, key):
    deliver(NOTE, create_command(body={"senderId": 100}), headers)
    note = Note.objects.get()
    assert deliver(NOTE, discard_command([note.pk], transactionId=str(uuid.uuid4())), headers) == ""
    (saga,) = sagas()
    assert saga.value["steps"][0]["payload"] == {
        "characterId": 100,
        "worldId": 1,
        "channelId": 3,
        "amount": 1,
    }
    assert statuses()[-1] == {
        "transactionId": NIL,
        "characterId": 200,
        "type": "DELETED",
        "body": {"noteId": note.pk},
    }


@pytest.mark.parametrize("note_ids", [None, [], "absent"])
def test_discard_without_ids_does_nothing(headers, note_ids):
    command = discard_command(note_ids)
    if note_ids == "absent":
        command["body"] = {}
    assert deliver(NOTE, command, headers) == ""
    assert statuses() == [] and sagas() == []


def test_discard_of_an_unknown_id_is_handled_and_changes_nothing(headers):
    deliver(NOTE, create_command(), headers)
    note = Note.objects.get()
    assert deliver(NOTE, discard_command([note.pk, note.pk + 99]), headers) == ""
    assert Note.objects.get().deleted_at is None
    assert [e["type"] for e in statuses()] == ["CREATED"]


def test_character_deleted_removes_its_notes(headers, key):
    deliver(NOTE, create_command(), headers)
    deliver(NOTE, create_command(characterId=300), headers)
    event = {"transactionId": NIL, "worldId": 0, "characterId": 200, "type": "DELETED", "body": {}}
    assert deliver(CHARACTER, event, headers) == ""
    tenant = tenant_row(key)
    assert [(r.value["type"], r.value["characterId"]) for r in emitted(STATUS_TOPIC, tenant)] == [
        ("CREATED", 200),
        ("CREATED", 300),
        ("DELETED", 200),
    ]
    assert Note.objects.filter(deleted_at__isnull=True).get().character_id == 300


@pytest.mark.parametrize("type_", ["CREATED", "LOGIN", "LOGOUT", "FAME_CHANGED", "DIED", "ERROR"])
def test_other_character_event_types_are_skipped(headers, type_):
    deliver(NOTE, create_command(), headers)
    event = {"worldId": 0, "characterId": 200, "type": type_, "body": {"whatever": [1]}}
    assert deliver(CHARACTER, event, headers) == "skipped"
    assert Note.objects.filter(deleted_at__isnull=True).count() == 1


@pytest.mark.parametrize("body", ["x", 5, []])
def test_character_deleted_with_a_non_object_body_is_a_dead_letter(headers, body):
    event = {"worldId": 0, "characterId": 200, "type": "DELETED", "body": body}
    assert "body" in deliver(CHARACTER, event, headers)


def test_character_deleted_accepts_any_object_body(headers):
    event = {"characterId": 200, "type": "DELETED", "body": {"anything": "at all"}}
    assert deliver(CHARACTER, event, headers) == ""


def test_environment_is_copied_onto_what_a_command_causes(key):
    headers = [*key.kafka_headers(), ("ENVIRONMENT", b"main")]
    deliver(NOTE, create_command(), headers)
    (record,) = emitted(STATUS_TOPIC)
    assert record.headers["ENVIRONMENT"] == b"main"


def test_the_consumer_is_upstreams_group_on_both_topics():
    from project.messaging import registry, wire

    consumer = registry.get("notes")
    assert consumer.default_group == "Notes Service"
    assert {s.token: sorted(s.handlers) for s in consumer.subscriptions.values()} == {
        "COMMAND_TOPIC_NOTE": ["CREATE", "DISCARD"],
        "EVENT_TOPIC_CHARACTER_STATUS": ["DELETED"],
    }
    assert consumer.subscriptions["COMMAND_TOPIC_NOTE"].kind == "command"
    assert consumer.subscriptions["EVENT_TOPIC_CHARACTER_STATUS"].kind == "event"
    assert {wire.topic_name(t) for t in consumer.produces} == {
        wire.topic_name("EVENT_TOPIC_NOTE_STATUS"),
        wire.topic_name("COMMAND_TOPIC_SAGA"),
    }
