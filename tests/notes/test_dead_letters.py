"""A note command the inbox gives up on: CREATE is answered with CREATE_FAILED (the
saga gives the item back), DISCARD stays a plain dead letter (upstream has no
failure event for it), and an answered CREATE is not replayed.

In-process against the real database: the bridge's ``store`` and the worker's
``inbox.process`` are called directly. The lasting database error is real: a
trigger makes the database refuse every insert into the notes table.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import connection, transaction

from notes import messages
from notes.models import Note
from project.messaging import bridge, inbox, registry, wire
from project.messaging.models import InboxMessage, Replay
from project.tenancy import TenantKey
from project.tenancy.rows import tenant_row
from tests.delivery import Record, drain
from tests.notes.support import statuses
from tests.support import database_refuses_inserts

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_retries")]

State = InboxMessage.State
COMMANDS = wire.topic_name(messages.COMMAND_TOPIC_NOTE)
TRANSACTION = uuid.UUID("5b0c1e6e-8a55-4c1e-9f00-3a1c2b7d9e01")


def notes_table_refuses_inserts():
    """The database refuses every new note, as a full disk would."""
    return database_refuses_inserts(Note._meta.db_table, "could not extend file: No space left")


def record(tenant: TenantKey, offset: int, value: dict) -> Record:
    return Record(
        COMMANDS, 0, offset, wire.key_u32(value["characterId"]), wire.dumps(value),
        tenant.kafka_headers(),
    )  # fmt: skip


def create_command(character_id: int = 200, sender_id: int = 100) -> dict:
    return {
        "transactionId": str(TRANSACTION),
        "worldId": 0,
        "channelId": 1,
        "characterId": character_id,
        "type": "CREATE",
        "body": {"senderId": sender_id, "message": "Thanks for the party!", "flag": 0},
    }


def row_at(offset: int) -> InboxMessage:
    return InboxMessage.objects.get(topic=COMMANDS, partition=0, offset=offset)


def test_a_create_the_database_keeps_refusing_is_answered_with_create_failed(tenant_key):
    # given a database that refuses new notes, and a CREATE of a saga
    consumer = registry.get("notes")
    with notes_table_refuses_inserts():
        bridge.store(consumer, [record(tenant_key, 0, create_command())])

        # when the worker has tried it INBOX_MAX_ATTEMPTS times
        drain(row_at(0).id)

    # then the row is dead and announced, no note exists, and CREATE_FAILED was
    # written with the row, echoing the saga's transaction, owner and sender
    dead = row_at(0)
    assert (dead.state, dead.attempts) == (State.DEAD, 2)
    assert dead.failure_announced_at is not None
    tenant = tenant_row(tenant_key)
    assert not Note.objects.filter(tenant=tenant).exists()
    (failed,) = statuses(tenant)
    reason = failed["body"].pop("reason")
    assert failed == {
        "transactionId": str(TRANSACTION),
        "characterId": 200,
        "type": "CREATE_FAILED",
        "body": {"senderId": 100},
    }
    assert reason.startswith("failed 2 times: ")
    assert "No space left" in reason


def test_an_answered_create_is_not_replayed_once_the_database_is_back(tenant_key):
    # given a CREATE that died and was answered with CREATE_FAILED
    consumer = registry.get("notes")
    with notes_table_refuses_inserts():
        bridge.store(consumer, [record(tenant_key, 0, create_command())])
        drain(row_at(0).id)

    # when the database is back and an operator replays the dead letter
    with transaction.atomic():
        queued = inbox.replay([row_at(0)], by="operator")

    # then nothing is queued: the saga was told the note failed (and gave the item
    # back), so creating it now would hand out the item twice
    assert queued == 0
    assert row_at(0).state == State.DEAD
    assert Replay.objects.get(message_id=row_at(0).id).outcome == Replay.Outcome.ANNOUNCED
    tenant = tenant_row(tenant_key)
    assert not Note.objects.filter(tenant=tenant).exists()
    assert [status["type"] for status in statuses(tenant)] == ["CREATE_FAILED"]


def test_a_discard_that_dies_is_not_answered(tenant_key, settings):
    # given a DISCARD whose handling keeps failing (the notes table cannot be read)
    consumer = registry.get("notes")
    discard = {
        "transactionId": str(TRANSACTION),
        "worldId": 0,
        "channelId": 1,
        "characterId": 200,
        "type": "DISCARD",
        "body": {"noteIds": [1]},
    }
    bridge.store(consumer, [record(tenant_key, 0, discard)])
    table = Note._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RENAME TO test_notes_away")
    try:
        drain(row_at(0).id)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE test_notes_away RENAME TO {table}")

    # then it is a plain dead letter: upstream has no failure event for DISCARD
    dead = row_at(0)
    assert dead.state == State.DEAD
    assert dead.failure_announced_at is None
    assert statuses(tenant_row(tenant_key)) == []


def test_a_refused_create_is_still_answered_by_the_service_not_as_a_dead_letter(tenant_key):
    """Validation refusals are the service's answer; the row is done."""
    consumer = registry.get("notes")
    bridge.store(consumer, [record(tenant_key, 0, create_command(sender_id=0))])

    drain(row_at(0).id)

    assert row_at(0).state == State.DONE
    assert row_at(0).failure_announced_at is None
    (failed,) = statuses(tenant_row(tenant_key))
    assert failed["body"] == {"senderId": 0, "reason": "senderId is required"}
