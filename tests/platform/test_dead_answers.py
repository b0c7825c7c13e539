"""A message that dies is answered: the handler's ``on_dead`` records are emitted in
the transaction that marks the row dead, and an announced row is not replayed.

In-process against the real database, like ``test_inbox``: the bridge's ``store``
and the worker's ``inbox.process`` are called directly, with echo's DOOMED
command (a PING whose death is answered by a DIED event).
"""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction

from project.messaging import bridge, inbox, registry, wire
from project.messaging.models import InboxMessage, OutboxMessage, Replay
from project.tenancy import TenantKey
from tests.delivery import Record, drain
from tests.echo.handlers import COMMAND_TOPIC_ECHO, EVENT_TOPIC_ECHO
from tests.echo.models import Effect

pytestmark = pytest.mark.django_db

State = InboxMessage.State
COMMANDS = wire.topic_name(COMMAND_TOPIC_ECHO)
EVENTS = wire.topic_name(EVENT_TOPIC_ECHO)


@pytest.fixture(autouse=True)
def _markers(tmp_path, monkeypatch):
    """``fail`` pings fail until ``allow-<seq>`` exists here (tests/echo/handlers.py)."""
    monkeypatch.setenv("ECHO_MARKER_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def echo() -> registry.Consumer:
    return registry.get("echo")


def command(
    tenant: TenantKey, offset: int, id_: int, seq: int, type_: str = "DOOMED", **body: object
) -> Record:
    value = wire.dumps(
        {"transactionId": str(uuid.uuid4()), "type": type_, "body": {"id": id_, "seq": seq, **body}}
    )
    return Record(COMMANDS, 0, offset, wire.key_u32(id_), value, tenant.kafka_headers())


def row_at(offset: int) -> InboxMessage:
    return InboxMessage.objects.get(topic=COMMANDS, partition=0, offset=offset)


def answers(tenant: TenantKey) -> list[tuple[bytes, dict]]:
    rows = OutboxMessage.objects.filter(tenant__uuid=tenant.id, topic=EVENTS).order_by("id")
    return [(bytes(row.key), wire.loads(bytes(row.value))) for row in rows]


def test_a_command_that_spends_its_attempts_is_answered_with_its_failure_event(
    echo, tenant_key, quick_retries
):
    # given a DOOMED command that keeps failing, and a later command of its key
    bridge.store(
        echo,
        [command(tenant_key, 0, 7, 1, fail=True), command(tenant_key, 1, 7, 2, type_="PING")],
    )

    # when the key is drained
    drain(row_at(1).id)

    # then the row is dead, announced, and its DIED event is in the outbox with the reason
    dead = row_at(0)
    assert (dead.state, dead.attempts) == (State.DEAD, 2)
    assert dead.failure_announced_at is not None
    assert answers(tenant_key)[0] == (
        wire.key_u32(7),
        {
            "id": 7,
            "seq": 1,
            "type": "DIED",
            "reason": "failed 2 times: Transient: echo told to fail (seq 1)",
        },
    )
    # and the key went on: the later command was handled after it
    assert row_at(1).state == State.DONE
    assert [value["type"] for _, value in answers(tenant_key)] == ["DIED", "PONG"]


def test_a_permanent_failure_is_answered_at_once(echo, tenant_key):
    bridge.store(echo, [command(tenant_key, 0, 8, 3, broken=True)])

    drain(row_at(0).id)

    assert (row_at(0).state, row_at(0).attempts) == (State.DEAD, 1)
    ((_, died),) = answers(tenant_key)
    assert died["reason"] == "permanent failure: ValueError: echo told it is broken (seq 3)"


def test_a_handler_without_on_dead_leaves_a_plain_dead_letter(echo, tenant_key):
    bridge.store(echo, [command(tenant_key, 0, 10, 1, type_="PING", broken=True)])

    drain(row_at(0).id)

    assert row_at(0).state == State.DEAD
    assert row_at(0).failure_announced_at is None
    assert answers(tenant_key) == []


def test_a_record_that_cannot_be_decoded_has_nothing_to_answer(echo, tenant_key):
    bad = Record(
        COMMANDS,
        0,
        0,
        wire.key_u32(11),
        b'{"type":"DOOMED","body":{"id":11,"seq":"one"}}',
        tenant_key.kafka_headers(),
    )

    bridge.store(echo, [bad])

    assert row_at(0).state == State.DEAD
    assert row_at(0).failure_announced_at is None
    assert answers(tenant_key) == []


def test_an_answer_that_fails_leaves_the_row_dead_unannounced_with_the_reason(echo, tenant_key):
    bridge.store(echo, [command(tenant_key, 0, 12, 5, broken=True, unanswerable=True)])

    drain(row_at(0).id)

    dead = row_at(0)
    assert dead.state == State.DEAD
    assert dead.failure_announced_at is None
    assert "its failure event could not be emitted" in dead.error
    assert "echo cannot answer the death of seq 5" in dead.error
    assert answers(tenant_key) == []


def test_a_command_that_dies_in_its_prepare_step_is_answered_too(echo, tenant_key, fake_services):
    # given a lookup the character service refuses for good (400)
    fake_services.put("characters/60", status=400, tenant=tenant_key)
    value = wire.dumps(
        {
            "transactionId": str(uuid.uuid4()),
            "type": "DOOMED_LOOKUP",
            "body": {"id": 15, "characterId": 60},
        }
    )
    bridge.store(
        echo, [Record(COMMANDS, 0, 0, wire.key_u32(15), value, tenant_key.kafka_headers())]
    )

    # when its prepare step runs (outside any transaction, as the lookups worker runs it)
    assert inbox.prepare(row_at(0).id) is None

    # then the row is dead and answered, with nothing prepared
    dead = row_at(0)
    assert (dead.state, dead.prepared) == (State.DEAD, None)
    assert dead.failure_announced_at is not None
    ((key, died),) = answers(tenant_key)
    assert key == wire.key_u32(15)
    assert died["type"] == "DIED"
    assert died["reason"].startswith("permanent failure: BadRequest")


# --- replaying a dead letter --------------------------------------------------------------


def test_a_dead_letter_whose_failure_was_announced_is_not_replayed(
    echo, tenant_key, quick_retries, _markers, django_capture_on_commit_callbacks
):
    # given a DOOMED command that died and was answered, and its cause since fixed
    bridge.store(echo, [command(tenant_key, 0, 13, 6, fail=True)])
    drain(row_at(0).id)
    (_markers / "allow-6").write_text("")
    row = row_at(0)

    # when an operator replays it
    with transaction.atomic(), django_capture_on_commit_callbacks():
        queued = inbox.replay([row], by="operator")

    # then it stays dead (nothing queued) and the refusal is recorded with its reason
    assert queued == 0
    assert row_at(0).state == State.DEAD
    (replay,) = Replay.objects.filter(message_id=row.id)
    assert (replay.by, replay.outcome) == ("operator", Replay.Outcome.ANNOUNCED)
    assert "its failure was announced at" in replay.detail
    # and the command was never applied
    assert Effect.objects.filter(tenant__uuid=tenant_key.id).count() == 0
    assert [value["type"] for _, value in answers(tenant_key)] == ["DIED"]


def test_a_dead_letter_whose_answer_failed_can_be_replayed(
    echo, tenant_key, django_capture_on_commit_callbacks
):
    bridge.store(echo, [command(tenant_key, 0, 14, 7, broken=True, unanswerable=True)])
    drain(row_at(0).id)

    with transaction.atomic(), django_capture_on_commit_callbacks():
        assert inbox.replay([row_at(0)], by="operator") == 1

    assert row_at(0).state == State.PENDING
