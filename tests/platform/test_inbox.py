"""Storing consumed records and handling inbox rows, in-process against the real database.

The bridge's ``build_row``/``store`` and the worker's ``inbox.process`` are called
directly (no broker, no worker), with records for the test-only echo consumer.

These tests run inside the test's transaction (``django_db`` without
``transaction=True``): ``store`` and ``process`` open their own durable blocks,
which Django turns into savepoints there, so a failing handler still rolls back
alone. Keeping the rows uncommitted also keeps them away from the e2e stack that
may be running in the same session on the same database (its beat sweeper and
worker would otherwise pick them up).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client import REGISTRY

from project.messaging import bridge, inbox, registry, wire
from project.messaging.models import InboxMessage, OutboxMessage, Replay, load_headers
from project.tenancy import TenantKey
from project.tenancy.rows import tenant_row
from tests.delivery import Record
from tests.echo.handlers import COMMAND_TOPIC_ECHO, EVENT_TOPIC_ECHO_INPUT
from tests.echo.models import Effect
from tests.support import given_character

pytestmark = pytest.mark.django_db

State = InboxMessage.State
COMMANDS = wire.topic_name(COMMAND_TOPIC_ECHO)
EVENTS = wire.topic_name(EVENT_TOPIC_ECHO_INPUT)


@pytest.fixture
def echo() -> registry.Consumer:
    return registry.get("echo")


@pytest.fixture(autouse=True)
def _markers(tmp_path, monkeypatch):
    """``fail`` pings fail until ``allow-<seq>`` exists here (tests/echo/handlers.py)."""
    monkeypatch.setenv("ECHO_MARKER_DIR", str(tmp_path))
    return tmp_path


class Offsets:
    """Consecutive offsets on partition 0, as one partition delivers them."""

    def __init__(self) -> None:
        self.next = 0

    def __call__(self) -> int:
        self.next += 1
        return self.next - 1


@pytest.fixture
def offsets() -> Offsets:
    return Offsets()


def ping_value(id_: int, seq: int, **flags: bool) -> bytes:
    return wire.dumps(
        {
            "transactionId": str(uuid.uuid4()),
            "type": "PING",
            "body": {"id": id_, "seq": seq, **flags},
        }
    )


def ping(tenant: TenantKey, offset: int, id_: int, seq: int, **flags: bool) -> Record:
    return Record(
        COMMANDS,
        0,
        offset,
        wire.key_u32(id_),
        ping_value(id_, seq, **flags),
        tenant.kafka_headers(),
    )


def row_at(offset: int, topic: str = COMMANDS) -> InboxMessage:
    return InboxMessage.objects.get(topic=topic, partition=0, offset=offset)


def effects(tenant: TenantKey) -> list[tuple[int, int]]:
    """(key id, seq) of the handled pings, in the order they were applied."""
    return list(
        Effect.objects.filter(tenant__uuid=tenant.id).order_by("id").values_list("key_id", "seq")
    )


def ids_of(to_enqueue: list[tuple[int, str]]) -> list[int]:
    """The row ids in the (id, ordering key) pairs ``store`` returns for ``inbox.enqueue``.

    Each pair's key must be its row's.
    """
    for inbox_id, ordering_key in to_enqueue:
        assert InboxMessage.objects.get(id=inbox_id).ordering_key == ordering_key
    return [inbox_id for inbox_id, _ in to_enqueue]


def drain(inbox_id: int, limit: int = 20) -> list[float | None]:
    """Call ``process`` as the task's retries would, until it reports the row finished."""
    results: list[float | None] = []
    for _ in range(limit):
        results.append(inbox.process(inbox_id))
        if results[-1] is None:
            return results
    raise AssertionError(f"row {inbox_id} not finished after {limit} calls: {results}")


# --- storing ----------------------------------------------------------------------------


def test_build_row_for_a_valid_command(echo, tenant_key):
    # given a PING record with a trace and an environment
    record = Record(
        COMMANDS,
        0,
        42,
        wire.key_u32(5001),
        ping_value(5001, 1),
        [
            ("traceparent", b"00-" + b"a" * 32 + b"-" + b"b" * 16 + b"-01"),
            *tenant_key.kafka_headers(),
            ("ENVIRONMENT", b"main"),
        ],
    )

    # when the bridge builds its row
    row = bridge.build_row(echo, record)

    # then the row holds the record as consumed, pending, ordered by app and key
    assert row.pk is None
    assert (row.app, row.consumer_group) == ("echo", "Echo Service")
    assert (row.topic, row.partition, row.offset) == (COMMANDS, 0, 42)
    assert bytes(row.key) == bytes.fromhex("8913000000000000")
    assert row.value == record.value
    assert load_headers(row.headers) == record.headers
    assert row.message_type == "PING"
    assert row.tenant.key == tenant_key
    assert row.ordering_key == "echo:8913000000000000"
    assert (row.state, row.error, row.attempts) == (State.PENDING, "", 0)
    assert row.handled_at is None and row.not_before is None
    assert row.enqueued_at is not None


def test_build_row_of_a_keyless_record_orders_it_under_the_empty_key(echo, tenant_key):
    record = Record(COMMANDS, 0, 0, None, ping_value(1, 1), tenant_key.kafka_headers())

    row = bridge.build_row(echo, record)

    assert row.key is None
    assert row.ordering_key == "echo:"


def test_event_types_the_app_ignores_and_foreign_topics_make_no_row(echo, tenant_key, offsets):
    # given an event type echo does not act on, and a topic echo does not consume
    ignored = Record(
        EVENTS, 0, offsets(), wire.key_u32(1), b'{"type":"MAP_CHANGED"}', tenant_key.kafka_headers()
    )
    foreign = Record("SOMEONE_ELSES_TOPIC", 0, offsets(), b"k", b'{"type":"PING"}', [])

    # when stored
    assert bridge.build_row(echo, ignored) is None
    assert bridge.build_row(echo, foreign) is None
    ids = bridge.store(echo, [ignored, foreign])

    # then there is nothing to store or handle
    assert ids == []
    assert not InboxMessage.objects.exists()


def test_storing_the_same_batch_twice_creates_no_duplicates(echo, tenant_key, offsets):
    # given a batch of three pings on two keys
    batch = [
        ping(tenant_key, offsets(), 1, 1),
        ping(tenant_key, offsets(), 1, 2),
        ping(tenant_key, offsets(), 2, 1),
    ]

    # when it is stored, and delivered and stored again (the offset commit was lost)
    first = bridge.store(echo, batch)
    second = bridge.store(echo, batch)

    # then the rows exist once, and the pending ids are returned again to enqueue
    assert InboxMessage.objects.count() == 3
    assert second == first
    assert ids_of(first) == [row_at(1).id, row_at(2).id]


def test_store_returns_only_the_newest_pending_row_per_key(echo, tenant_key, offsets):
    # given keys 7 (three pings), 8 (one), a dead record with key 7, and an ignored event
    batch = [
        ping(tenant_key, offsets(), 7, 1),
        ping(tenant_key, offsets(), 8, 1),
        ping(tenant_key, offsets(), 7, 2),
        ping(tenant_key, offsets(), 7, 3),
        Record(COMMANDS, 0, offsets(), wire.key_u32(7), b"{", tenant_key.kafka_headers()),
    ]

    # when stored
    ids = bridge.store(echo, batch)

    # then draining the newest row of each key will handle them all
    assert ids_of(ids) == [row_at(1).id, row_at(3).id]
    assert row_at(4).state == State.DEAD
    assert set(InboxMessage.objects.values_list("ordering_key", flat=True)) == {
        "echo:0700000000000000",
        "echo:0800000000000000",
    }


def test_a_later_batch_returns_the_newest_pending_rows_of_its_own_offsets(
    echo, tenant_key, offsets
):
    bridge.store(echo, [ping(tenant_key, offsets(), 1, 1), ping(tenant_key, offsets(), 2, 1)])

    ids = bridge.store(echo, [ping(tenant_key, offsets(), 1, 2)])

    assert ids_of(ids) == [row_at(2).id]


@pytest.mark.parametrize(
    ("value", "headers", "type_", "reason"),
    [
        (b'{"type":"PING",', "tenant", "", "invalid JSON"),
        (b'{"type":"PING","body":{"id":1.5}}', "tenant", "PING", "invalid PING message: body.id"),
        (b'{"type":"PONG"}', "tenant", "PONG", "unknown command type 'PONG' on COMMAND_TOPIC_ECHO"),
        (b'{"type":"PING"}', "none", "PING", "invalid tenant headers: missing TENANT_ID header"),
        (
            b'{"type":"PING"}',
            "ascii-version",
            "PING",
            "invalid tenant headers: MAJOR_VERSION header must be 2 big-endian bytes, got 3",
        ),
    ],
)
def test_bad_records_are_stored_dead_with_the_reason(
    echo, tenant_key, offsets, value, headers, type_, reason
):
    # given an undecodable record among good ones
    record_headers = {
        "tenant": tenant_key.kafka_headers(),
        "none": [],
        "ascii-version": [
            (n, b"083" if n == "MAJOR_VERSION" else v) for n, v in tenant_key.kafka_headers()
        ],
    }[headers]
    bad = Record(COMMANDS, 0, 1, wire.key_u32(3), value, record_headers)

    # when the batch is stored
    ids = bridge.store(echo, [ping(tenant_key, 0, 3, 1), bad, ping(tenant_key, 2, 3, 2)])

    # then the bad record is a dead row with its reason and bytes, never enqueued
    dead = row_at(1)
    assert dead.state == State.DEAD
    assert dead.error.startswith(reason)
    assert dead.message_type == type_
    assert dead.handled_at is not None
    assert dead.value == value
    assert load_headers(dead.headers) == record_headers
    assert ids_of(ids) == [row_at(2).id]
    if headers != "tenant":
        assert dead.tenant is None


def test_the_tenant_row_is_shared_by_all_records_of_a_tenant(echo, tenant_key, offsets):
    bridge.store(echo, [ping(tenant_key, offsets(), 1, 1), ping(tenant_key, offsets(), 2, 1)])

    assert {row.tenant_id for row in InboxMessage.objects.all()} == {tenant_row(tenant_key).id}


# --- handling in order ------------------------------------------------------------------


def test_process_handles_older_rows_of_the_key_in_id_order_and_leaves_other_keys(
    echo, tenant_key, offsets
):
    # given three pings for key 1 interleaved with a ping for key 2
    bridge.store(
        echo,
        [
            ping(tenant_key, offsets(), 1, 1),
            ping(tenant_key, offsets(), 2, 1),
            ping(tenant_key, offsets(), 1, 2),
            ping(tenant_key, offsets(), 1, 3),
        ],
    )
    newest = row_at(3)

    # when the newest row of key 1 is processed
    result = inbox.process(newest.id)

    # then all of key 1 was applied, in order, and key 2 waits for its own task
    assert result is None
    assert effects(tenant_key) == [(1, 1), (1, 2), (1, 3)]
    effect_inbox_ids = list(Effect.objects.order_by("id").values_list("inbox_id", flat=True))
    assert effect_inbox_ids == [row_at(0).id, row_at(2).id, row_at(3).id]
    for offset in (0, 2, 3):
        row = row_at(offset)
        assert row.state == State.DONE
        assert row.handled_at is not None
        assert row.tenant.key == tenant_key
    assert row_at(1).state == State.PENDING


def test_process_drains_the_whole_key_in_order(echo, tenant_key, offsets):
    # A task may stand for rows stored after its own (the bridge skips keys that
    # already have a task waiting), so draining goes past the given row.
    bridge.store(echo, [ping(tenant_key, offsets(), 1, seq) for seq in (1, 2, 3)])
    bridge.store(echo, [ping(tenant_key, offsets(), 2, 9)])

    inbox.process(row_at(1).id)

    assert effects(tenant_key) == [(1, 1), (1, 2), (1, 3)]
    assert row_at(3).state == State.PENDING  # another key


def test_process_takes_a_key_in_batches(echo, tenant_key, offsets, settings):
    settings.INBOX_BATCH = 2
    bridge.store(echo, [ping(tenant_key, offsets(), 1, seq) for seq in range(5)])

    # when the newest row is processed, the key is drained batch after batch
    with CaptureQueriesContext(connection) as captured:
        assert inbox.process(row_at(4).id) is None

    assert effects(tenant_key) == [(1, seq) for seq in range(5)]
    # three reads of at most two rows each (2 + 2 + 1), not one of all five
    locks = [q["sql"] for q in captured.captured_queries if re.search(r"\bLIMIT 2\b", q["sql"])]
    assert len(locks) == 3, locks


def test_a_changed_batch_setting_takes_effect(echo, tenant_key, offsets, settings):
    # One size, then another: a statement frozen at any one size fails one of the two.
    for size, expected in ((3, [0, 1, 2]), (2, [0, 1, 2, 3, 4, 5])):
        settings.INBOX_BATCH = size
        # given more of the key's rows waiting than one batch holds
        first = offsets.next
        bridge.store(echo, [ping(tenant_key, offsets(), 1, first + n) for n in range(size + 1)])
        target = row_at(first + size - 1)

        # when the key is processed up to the last row of one batch
        retry = inbox.process_keys([(target.id, target.ordering_key)])

        # then one batch ran, and the key is sent again for the row stored after it
        assert [seq for _, seq in effects(tenant_key)] == expected
        assert retry == [(target.id, target.ordering_key, 0.0)]
        assert row_at(first + size).state == State.PENDING
        inbox.process(row_at(first + size).id)


def test_process_of_a_finished_or_missing_row_does_nothing(echo, tenant_key, offsets):
    bridge.store(echo, [ping(tenant_key, offsets(), 1, 1)])
    row = row_at(0)
    assert inbox.process(row.id) is None

    # when it is processed again (a duplicate task), or an id that does not exist
    assert inbox.process(row.id) is None
    assert inbox.process(row.id + 1000) is None

    # then the effect happened once
    assert effects(tenant_key) == [(1, 1)]


def test_the_handler_runs_with_the_rows_environment_and_trace(echo, tenant_key):
    trace = "00-" + "c" * 32 + "-" + "d" * 16 + "-01"
    record = Record(
        COMMANDS,
        0,
        0,
        wire.key_u32(9),
        ping_value(9, 1),
        [*tenant_key.kafka_headers(), ("ENVIRONMENT", b"pr-7"), ("traceparent", trace.encode())],
    )
    bridge.store(echo, [record])

    inbox.process(row_at(0).id)

    (pong,) = OutboxMessage.objects.filter(tenant__uuid=tenant_key.id)
    headers = dict(pong.header_list)
    assert headers["ENVIRONMENT"] == b"pr-7"
    assert wire.TraceParent.parse(headers["traceparent"]).trace_id == "c" * 32


def test_a_record_without_a_trace_starts_a_new_root_trace(echo, tenant_key):
    # given a record with no traceparent (several Atlas producers send none)
    bridge.store(echo, [Record(COMMANDS, 0, 0, wire.key_u32(9), ping_value(9, 1),
                               tenant_key.kafka_headers())])  # fmt: skip

    inbox.process(row_at(0).id)

    # then the event carries a fresh valid trace, as upstream's consumers start one
    (pong,) = OutboxMessage.objects.filter(tenant__uuid=tenant_key.id)
    assert wire.TraceParent.parse(dict(pong.header_list)["traceparent"]) is not None
    assert "ENVIRONMENT" not in dict(pong.header_list)


def test_a_row_for_a_topic_the_app_no_longer_consumes_is_dead(tenant_key):
    # given a stored row whose topic echo no longer subscribes to
    row = InboxMessage.objects.create(
        app="echo",
        consumer_group="Echo Service",
        topic="COMMAND_TOPIC_GONE",
        partition=0,
        offset=0,
        key=b"k",
        headers=[],
        value=b'{"type":"PING"}',
        ordering_key="echo:6b",
    )

    # when it is processed
    assert inbox.process(row.id) is None

    # then it is a dead letter with the reason
    row.refresh_from_db()
    assert row.state == State.DEAD
    assert row.error == "app 'echo' no longer subscribes to topic 'COMMAND_TOPIC_GONE'"


# --- failures, back-off, dead rows, replay --------------------------------------------------


def test_a_failing_row_backs_off_exponentially(echo, tenant_key, offsets, settings):
    # given a ping that fails, long back-off steps and a cap
    settings.INBOX_RETRY_BASE_SECONDS = 60
    settings.INBOX_RETRY_MAX_SECONDS = 90
    settings.INBOX_MAX_ATTEMPTS = 5
    bridge.store(echo, [ping(tenant_key, offsets(), 1, 7, fail=True)])
    row = row_at(0)

    # when it is processed
    before = timezone.now()
    delay = inbox.process(row.id)

    # then the attempt is counted with its traceback, and the task should retry in 60 s
    assert delay == 60
    row.refresh_from_db()
    assert (row.state, row.attempts) == (State.PENDING, 1)
    assert "Traceback" in row.error
    assert "Transient: echo told to fail (seq 7)" in row.error
    assert before + dt.timedelta(seconds=59) < row.not_before
    assert row.not_before <= timezone.now() + dt.timedelta(seconds=60)
    assert effects(tenant_key) == []

    # when a duplicate task runs early, the row is not tried again
    early = inbox.process(row.id)
    assert 0 < early <= 60
    row.refresh_from_db()
    assert row.attempts == 1

    # when the back-off is over, the next failure waits twice as long, capped at 90 s
    InboxMessage.objects.filter(id=row.id).update(not_before=timezone.now())
    assert inbox.process(row.id) == 90
    row.refresh_from_db()
    assert row.attempts == 2


def test_a_failing_row_holds_back_later_rows_of_its_key_only(echo, tenant_key, offsets, settings):
    # given a failing ping, a later ping of the same key and a ping of another key
    settings.INBOX_RETRY_BASE_SECONDS = 60
    settings.INBOX_RETRY_MAX_SECONDS = 90
    bridge.store(
        echo,
        [
            ping(tenant_key, offsets(), 1, 1, fail=True),
            ping(tenant_key, offsets(), 1, 2),
            ping(tenant_key, offsets(), 2, 1),
        ],
    )

    # when the later row of key 1 and the row of key 2 are processed
    blocked = inbox.process(row_at(1).id)
    again = inbox.process(row_at(1).id)
    other = inbox.process(row_at(2).id)

    # then key 1 waits behind its failing head (never out of order), key 2 goes on
    assert blocked == 60
    assert 0 < again <= 60
    assert other is None
    assert row_at(0).attempts == 1
    assert row_at(1).state == State.PENDING
    assert effects(tenant_key) == [(2, 1)]


def test_after_max_attempts_the_row_is_dead_and_later_rows_proceed(
    echo, tenant_key, offsets, settings
):
    # given at most 2 attempts, no back-off, a failing ping and a later one of its key
    settings.INBOX_MAX_ATTEMPTS = 2
    settings.INBOX_RETRY_BASE_SECONDS = 0
    bridge.store(
        echo,
        [ping(tenant_key, offsets(), 1, 1, fail=True), ping(tenant_key, offsets(), 1, 2)],
    )
    failing, later = row_at(0), row_at(1)

    # when the later row's task runs until it is finished
    results = drain(later.id)

    # then it was retried at once (no back-off) until the later row was handled
    assert results[-1] is None
    assert set(results[:-1]) == {0}
    assert 2 <= len(results) <= 3
    failing.refresh_from_db()
    assert failing.state == State.DEAD
    assert failing.attempts == 2
    assert failing.error.startswith("failed 2 times; last error:\n")
    assert "echo told to fail (seq 1)" in failing.error
    assert failing.handled_at is not None
    assert row_at(1).state == State.DONE
    assert effects(tenant_key) == [(1, 2)]


def test_a_row_failing_on_its_own_task_reports_dead_as_finished(
    echo, tenant_key, offsets, settings
):
    settings.INBOX_MAX_ATTEMPTS = 2
    settings.INBOX_RETRY_BASE_SECONDS = 0
    bridge.store(echo, [ping(tenant_key, offsets(), 1, 1, fail=True)])

    assert drain(row_at(0).id) == [0, None]
    assert row_at(0).state == State.DEAD


def test_replay_puts_a_dead_row_back_and_it_is_handled(
    echo, tenant_key, offsets, settings, _markers, django_capture_on_commit_callbacks
):
    # given a ping that died after its attempts, and the cause since fixed
    settings.INBOX_MAX_ATTEMPTS = 1
    bridge.store(echo, [ping(tenant_key, offsets(), 1, 5, fail=True)])
    row = row_at(0)
    assert inbox.process(row.id) is None
    row.refresh_from_db()
    assert row.state == State.DEAD
    (_markers / "allow-5").write_text("")
    long_ago = timezone.now() - dt.timedelta(hours=1)
    InboxMessage.objects.filter(id=row.id).update(enqueued_at=long_ago)
    row.refresh_from_db()

    # when an operator replays it
    with django_capture_on_commit_callbacks() as callbacks:
        count = inbox.replay([row])

    # then it is pending with a fresh attempt count, and is enqueued after commit
    assert count == 1
    assert len(callbacks) == 1
    row.refresh_from_db()
    assert (row.state, row.attempts, row.not_before) == (State.PENDING, 0, None)
    assert row.enqueued_at > long_ago
    # and its task handles it
    assert inbox.process(row.id) is None
    assert row_at(0).state == State.DONE
    assert effects(tenant_key) == [(1, 5)]


def test_replay_ignores_rows_that_are_not_dead(
    echo, tenant_key, offsets, django_capture_on_commit_callbacks
):
    bridge.store(echo, [ping(tenant_key, offsets(), 1, 1), ping(tenant_key, offsets(), 2, 1)])
    inbox.process(row_at(0).id)
    done, pending = row_at(0), row_at(1)

    with django_capture_on_commit_callbacks():
        count = inbox.replay([done, pending])

    assert count == 0
    assert row_at(0).state == State.DONE
    assert row_at(1).state == State.PENDING


def test_newest_per_key_is_the_highest_id_of_each_key_in_id_order():
    result = inbox.newest_per_key([(1, "a"), (5, "b"), (3, "a"), (2, "b"), (9, "c")])

    assert result == [(3, "a"), (5, "b"), (9, "c")]
    assert inbox.newest_per_key([]) == []


# --- the stale-row sweeper ------------------------------------------------------------------


def test_sweep_stale_reenqueues_only_stale_pending_rows(
    redis_server, echo, tenant_key, offsets, settings
):
    # given pending rows enqueued long ago on keys 1 and 2, a fresh pending row on key 3,
    # and old dead and done rows
    settings.INBOX_STALE_SECONDS = 60
    bridge.store(
        echo,
        [
            ping(tenant_key, offsets(), 1, 1),
            ping(tenant_key, offsets(), 1, 2),
            ping(tenant_key, offsets(), 2, 1),
            ping(tenant_key, offsets(), 3, 1),
            Record(COMMANDS, 0, offsets(), wire.key_u32(4), b"{", tenant_key.kafka_headers()),
            ping(tenant_key, offsets(), 5, 1),
        ],
    )
    inbox.process(row_at(5).id)
    long_ago = timezone.now() - dt.timedelta(minutes=10)
    recently = timezone.now() - dt.timedelta(seconds=30)
    InboxMessage.objects.exclude(offset=3).update(enqueued_at=long_ago)
    InboxMessage.objects.filter(offset=3).update(enqueued_at=recently)

    # when the sweeper runs
    before = timezone.now()
    count = inbox.sweep_stale()

    # then one task per stale key was sent, and those rows count as enqueued now
    assert count == 2
    swept = InboxMessage.objects.filter(enqueued_at__gte=before)
    assert sorted(swept.values_list("offset", flat=True)) == [0, 1, 2]
    assert row_at(3).enqueued_at == recently
    assert row_at(4).enqueued_at == long_ago
    assert row_at(5).enqueued_at == long_ago
    # and a second sweep right after finds nothing
    assert inbox.sweep_stale() == 0


def test_sweep_stale_takes_at_most_limit_rows_oldest_first(
    redis_server, echo, tenant_key, offsets, settings
):
    settings.INBOX_STALE_SECONDS = 60
    bridge.store(echo, [ping(tenant_key, offsets(), n, 1) for n in (1, 2, 3)])
    InboxMessage.objects.update(enqueued_at=timezone.now() - dt.timedelta(minutes=10))

    assert inbox.sweep_stale(limit=2) == 2
    assert inbox.sweep_stale(limit=2) == 1
    assert inbox.sweep_stale(limit=2) == 0


def test_sweep_stale_with_nothing_stale_sends_nothing(echo, tenant_key, offsets, settings):
    # (no Redis needed: nothing is enqueued)
    settings.INBOX_STALE_SECONDS = 60
    bridge.store(echo, [ping(tenant_key, offsets(), 1, 1)])

    assert inbox.sweep_stale() == 0


# --- kinds of failure: permanent, refused by the domain --------------------------------


def test_a_permanent_failure_is_dead_at_once_and_the_key_goes_on(echo, tenant_key, offsets):
    # given a ping whose handler raises ValueError, and a later ping of the same key
    bridge.store(
        echo,
        [ping(tenant_key, offsets(), 1, 1, broken=True), ping(tenant_key, offsets(), 1, 2)],
    )

    # when the key is drained
    assert drain(row_at(1).id)[-1] is None

    # then the broken row is dead after one attempt with its reason, and the next was handled
    broken = row_at(0)
    assert (broken.state, broken.attempts) == (State.DEAD, 1)
    assert broken.error.startswith("permanent failure (ValueError), not retried:")
    assert "echo told it is broken (seq 1)" in broken.error
    assert row_at(1).state == State.DONE
    assert effects(tenant_key) == [(1, 2)]


def test_a_domain_error_rolls_back_the_change_and_emits_its_events(echo, tenant_key, offsets):
    # given a ping the domain refuses after writing an effect
    bridge.store(echo, [ping(tenant_key, offsets(), 4, 1, refuse=True)])

    # when it is handled
    assert drain(row_at(0).id)[-1] is None

    # then the row is done, the effect rolled back, and the carried event is in the outbox
    assert row_at(0).state == State.DONE
    assert effects(tenant_key) == []
    events = OutboxMessage.objects.filter(tenant__uuid=tenant_key.id).order_by("id")
    assert [wire.loads(bytes(e.value)) for e in events] == [{"id": 4, "seq": 1, "type": "REFUSED"}]
    assert bytes(events[0].key) == wire.key_u32(4)


# --- the prepare step (lookups outside the transaction) ---------------------------------


def lookups(outcome: str) -> float:
    """Prepare steps timed so far (``atlas_lookup_seconds``) of the echo commands."""
    labels = {"app": "echo", "topic": COMMANDS, "outcome": outcome}
    return REGISTRY.get_sample_value("atlas_lookup_seconds_count", labels) or 0.0


def lookup(tenant: TenantKey, offset: int, id_: int, character_id: int) -> Record:
    value = wire.dumps(
        {
            "transactionId": str(uuid.uuid4()),
            "type": "LOOKUP",
            "body": {"id": id_, "characterId": character_id},
        }
    )
    return Record(COMMANDS, 0, offset, wire.key_u32(id_), value, tenant.kafka_headers())


def test_a_row_with_a_prepare_step_waits_for_it_and_the_rows_before_it_commit(
    echo, tenant_key, offsets, settings, django_capture_on_commit_callbacks
):
    # given a local directory with character 50, a ping, then a lookup, on one key
    settings.SERVICE_URLS = {}
    settings.BASE_SERVICE_URL = ""
    given_character(tenant_key, 50, level=77)
    bridge.store(echo, [ping(tenant_key, offsets(), 1, 1), lookup(tenant_key, offsets(), 1, 50)])

    # when the key is drained before the lookup was prepared
    with django_capture_on_commit_callbacks() as callbacks:
        assert inbox.process(row_at(1).id) is None

    # then the ping is done, the lookup waits with no effect, and its prepare task is sent
    assert row_at(0).state == State.DONE
    assert (row_at(1).state, row_at(1).prepared) == (State.PENDING, None)
    assert effects(tenant_key) == [(1, 1)]
    assert [c.__qualname__ for c in callbacks if "prepare" in c.__qualname__] == [
        "_run_rows_until_prepare.<locals>.<lambda>"
    ]

    # when the prepare step runs (no transaction) and the key is drained again
    looked_up = lookups("ok")
    assert inbox.prepare(row_at(1).id) is None
    assert lookups("ok") == looked_up + 1  # timed, as atlas_lookup_seconds
    assert row_at(1).prepared == {"value": {"id": 50, "world_id": 0, "name": "",
                                            "level": 77, "job_id": 100, "gm": 0}}  # fmt: skip
    assert drain(row_at(1).id)[-1] is None

    # then the handler saw the looked-up level
    assert row_at(1).state == State.DONE
    assert effects(tenant_key) == [(1, 1), (1, 77)]


def test_a_prepare_step_failing_transiently_backs_off(echo, tenant_key, offsets, settings,
                                                      fake_services):  # fmt: skip
    # given a character service that answers 503
    settings.INBOX_RETRY_BASE_SECONDS = 30
    fake_services.put("characters/60", status=503, tenant=tenant_key)
    bridge.store(echo, [lookup(tenant_key, offsets(), 2, 60)])

    # when the prepare step runs
    failed = lookups("failed")
    delay = inbox.prepare(row_at(0).id)
    assert lookups("failed") == failed + 1

    # then the attempt is counted, the row backs off and nothing was prepared
    row = row_at(0)
    assert (row.state, row.attempts, row.prepared) == (State.PENDING, 1, None)
    assert delay == 30
    assert "Unavailable" in row.error


def test_a_replay_is_recorded_and_a_row_valid_today_is_queued(echo, tenant_key, offsets):
    # given a row that died (as it would have under an older, stricter decoder)
    bridge.store(echo, [ping(tenant_key, offsets(), 9, 1)])
    row = row_at(0)
    InboxMessage.objects.filter(id=row.id).update(state=State.DEAD, error="old reason")
    row.refresh_from_db()

    # when an operator replays it
    with transaction.atomic():
        assert inbox.replay([row], by="operator") == 1

    # then it is pending again and the replay is recorded as queued
    assert row_at(0).state == State.PENDING
    (replay,) = Replay.objects.filter(message_id=row.id)
    assert (replay.by, replay.outcome) == ("operator", Replay.Outcome.QUEUED)
