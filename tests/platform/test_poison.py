"""Records that once stopped a partition for good are dead letters now, on every database.

Each case was found under fuzzing (the Reliability issue): the bridge stores it as a
dead row with its reason, the rows around it are stored and handled, nothing retries
for ever. Runs on SQLite and, in CI, on PostgreSQL.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from project.messaging import bridge, inbox, registry, wire
from project.messaging.models import InboxMessage
from project.tenancy import TenantKey
from tests.delivery import Record
from tests.echo.handlers import COMMAND_TOPIC_ECHO
from tests.echo.models import Effect

pytestmark = pytest.mark.django_db

COMMANDS = wire.topic_name(COMMAND_TOPIC_ECHO)
State = InboxMessage.State


def ping_value(id_: int, seq: int = 1) -> bytes:
    return wire.dumps(
        {"transactionId": str(uuid.uuid4()), "type": "PING", "body": {"id": id_, "seq": seq}}
    )


def record(offset: int, value: bytes, headers, key: bytes = b"\x01\0\0\0\0\0\0\0") -> Record:
    return Record(COMMANDS, 0, offset, key, value, headers)


def stored(offset: int) -> InboxMessage:
    return InboxMessage.objects.get(topic=COMMANDS, partition=0, offset=offset)


def store(*records: Record) -> None:
    ids = bridge.store(registry.get("echo"), list(records))
    for inbox_id, ordering_key in ids:
        inbox.process(inbox_id, ordering_key)


def deep_surrogate_value(depth: int = 600) -> bytes:
    return b'{"type":"PING","body":' + b'{"a":' * depth + b'"\\ud800"' + b"}" * depth + b"}"


@pytest.mark.parametrize(
    ("name", "value", "headers_of", "reason"),
    [
        (
            "deep nesting around a lone surrogate",
            deep_surrogate_value(),
            lambda t: t.kafka_headers(),
            "nested too deeply",
        ),
        (
            "a header name that is not UTF-8",
            ping_value(1),
            lambda t: [*t.kafka_headers(), ("\x00\\xff\\xfe", b"x")],
            "header names not valid UTF-8",
        ),
        (
            "a NUL in a header name",
            ping_value(1),
            lambda t: [*t.kafka_headers(), ("X\x00Y", b"x")],
            "holding NUL",
        ),
        (
            "a REGION of 40 characters",
            ping_value(1),
            lambda t: TenantKey(t.id, "R" * 40, 83, 1).kafka_headers(),
            "REGION header is longer than 32",
        ),
        (
            "a NUL in REGION",
            ping_value(1),
            lambda t: TenantKey(t.id, "G\x00S", 83, 1).kafka_headers(),
            "REGION header holds a NUL",
        ),
        (
            "a NUL in the type",
            b'{"type":"PI\\u0000NG","body":{"id":1}}',
            lambda t: t.kafka_headers(),
            "unknown command type 'PI\\x00NG'",
        ),
        (
            "a value over 512 KiB",
            b'{"type":"PING","body":{"id":1,"pad":"' + b"x" * 600_000 + b'"}}',
            lambda t: t.kafka_headers(),
            "over 524288",
        ),
    ],
)
def test_a_poison_record_is_a_dead_letter_and_the_next_record_is_handled(
    tenant_key, name, value, headers_of, reason
):
    # given the poison record and a good ping right after it, of the same key
    poison = record(0, value, headers_of(tenant_key))
    good = record(1, ping_value(1, seq=7), tenant_key.kafka_headers())

    # when both are stored and handled
    store(poison, good)

    # then the poison is dead with its reason, and the good one had its effect
    row = stored(0)
    assert row.state == State.DEAD, name
    assert reason in row.error, row.error
    assert stored(1).state == State.DONE
    assert list(
        Effect.objects.filter(tenant__uuid=tenant_key.id).values_list("seq", flat=True)
    ) == [7]


def test_a_key_too_long_for_the_ordering_column_is_handled_in_order(tenant_key):
    key = bytes(range(200))
    store(
        record(0, ping_value(1, 1), tenant_key.kafka_headers(), key=key),
        record(1, ping_value(1, 2), tenant_key.kafka_headers(), key=key),
    )
    assert stored(0).ordering_key == stored(1).ordering_key
    assert stored(0).ordering_key.startswith("echo:sha256-")
    assert [stored(0).state, stored(1).state] == [State.DONE, State.DONE]
    seqs = Effect.objects.filter(tenant__uuid=tenant_key.id).order_by("id")
    assert list(seqs.values_list("seq", flat=True)) == [1, 2]


@pytest.fixture
def refuse_offset_13():
    """A real database trigger refusing pending inbox rows at offset 13 (a stand-in for
    any row the database will not store, e.g. a value its column type refuses)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "CREATE TRIGGER refuse_13 BEFORE INSERT ON messaging_inboxmessage "
                "WHEN NEW.\"offset\" = 13 AND NEW.state = 'pending' "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END"
            )
        else:
            cursor.execute(
                "CREATE FUNCTION refuse_13() RETURNS trigger AS $$ BEGIN "
                "IF NEW.\"offset\" = 13 AND NEW.state = 'pending' THEN "
                "RAISE EXCEPTION 'refused by the test trigger'; END IF; RETURN NEW; END $$ "
                "LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER refuse_13 BEFORE INSERT ON messaging_inboxmessage "
                "FOR EACH ROW EXECUTE FUNCTION refuse_13()"
            )
    yield


def test_a_record_the_database_refuses_is_isolated_as_a_dead_letter(tenant_key, refuse_offset_13):
    # given a batch whose middle record the database refuses
    headers = tenant_key.kafka_headers()
    batch = [record(12, ping_value(1, 1), headers), record(13, ping_value(1, 2), headers),
             record(14, ping_value(1, 3), headers)]  # fmt: skip

    # when the batch is stored and handled
    store(*batch)

    # then the refused one is a dead letter with the refusal, the others were handled
    assert stored(13).state == State.DEAD
    assert "could not be stored" in stored(13).error
    assert "refused by the test trigger" in stored(13).error
    assert bytes(stored(13).value) == batch[1].value
    assert [stored(12).state, stored(14).state] == [State.DONE, State.DONE]
