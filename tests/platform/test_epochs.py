"""Reused offsets: a new record at a stored offset is never taken for the stored one."""

from __future__ import annotations

import uuid

import pytest

from project.messaging import bridge, epochs, inbox, registry, wire
from project.messaging.models import InboxMessage, PartitionEpoch
from tests.delivery import Record
from tests.echo.handlers import COMMAND_TOPIC_ECHO
from tests.echo.models import Effect

pytestmark = pytest.mark.django_db

COMMANDS = wire.topic_name(COMMAND_TOPIC_ECHO)
GROUP = "Echo Service"


def Rec(offset: int, value: bytes, headers, timestamp: int) -> Record:
    """A consumed record of partition 0 of the echo commands, with its Kafka timestamp."""
    return Record(COMMANDS, 0, offset, b"\x01" + b"\0" * 7, value, headers, timestamp)


def ping(seq: int) -> bytes:
    return wire.dumps(
        {"transactionId": str(uuid.uuid4()), "type": "PING", "body": {"id": 1, "seq": seq}}
    )


def handle(records) -> None:
    for inbox_id, key in bridge.store(registry.get("echo"), records):
        inbox.process(inbox_id, key)


def seqs(tenant_key) -> list[int]:
    effects = Effect.objects.filter(tenant__uuid=tenant_key.id).order_by("id")
    return list(effects.values_list("seq", flat=True))


def test_a_redelivered_record_is_a_no_op(tenant_key):
    first = Rec(0, ping(1), tenant_key.kafka_headers(), 1000)
    handle([first])
    handle([first])  # the same record again (offset not committed before a crash)
    assert seqs(tenant_key) == [1]
    assert epochs.current(GROUP, COMMANDS, 0) == 0


def test_another_record_at_a_stored_offset_starts_a_new_epoch_and_is_handled(tenant_key):
    # given offsets 0 and 1 stored and handled
    headers = tenant_key.kafka_headers()
    handle([Rec(0, ping(1), headers, 1000), Rec(1, ping(2), headers, 1001)])

    # when the topic starts again and new records arrive at offsets 0 and 1
    fourth = Rec(1, ping(4), headers, 5001)
    handle([Rec(0, ping(3), headers, 5000), fourth])

    # then both are handled, in a new epoch of the partition, and the reason is kept
    assert seqs(tenant_key) == [1, 2, 3, 4]
    assert epochs.current(GROUP, COMMANDS, 0) == 1
    assert (
        "offset 0 holds another record" in PartitionEpoch.objects.get(consumer_group=GROUP).reason
    )
    assert InboxMessage.objects.filter(topic=COMMANDS, epoch=1).count() == 2

    # and a redelivery in the new epoch is still a no-op
    handle([fourth])
    assert seqs(tenant_key) == [1, 2, 3, 4]


def test_the_same_bytes_produced_again_later_are_a_new_record(tenant_key):
    value = ping(1)
    headers = tenant_key.kafka_headers()
    handle([Rec(0, value, headers, 1000)])
    handle([Rec(0, value, headers, 9000)])  # same bytes, produced again after a reset
    assert seqs(tenant_key) == [1, 1]


def test_a_log_ending_before_a_stored_offset_is_a_new_log(tenant_key):
    headers = tenant_key.kafka_headers()
    handle([Rec(offset, ping(offset), headers, 1000 + offset) for offset in range(5)])
    assert not epochs.check_log_end(GROUP, COMMANDS, 0, 5)  # the same log, read to its end
    assert epochs.check_log_end(GROUP, COMMANDS, 0, 2)  # a log of 2 records: a new one
    assert epochs.current(GROUP, COMMANDS, 0) == 1
    # then its records at offsets 0 and 1 are new, even with identical timestamps
    handle([Rec(0, ping(10), headers, 1000), Rec(1, ping(11), headers, 1001)])
    assert seqs(tenant_key)[-2:] == [10, 11]


def handle_with(positions: epochs.Positions, records) -> None:
    for inbox_id, key in bridge.store(registry.get("echo"), records, positions):
        inbox.process(inbox_id, key)


def test_a_batch_continuing_a_known_partition_is_one_insert(
    tenant_key, django_capture_on_commit_callbacks
):
    from tests.support import at_most_queries

    positions = epochs.Positions()
    headers = tenant_key.kafka_headers()
    # first batch: checked (its new tenant row is cached when it commits, played here)
    with django_capture_on_commit_callbacks(execute=True):
        handle_with(positions, [Rec(0, ping(1), headers, 1000)])
    with at_most_queries(3) as captured:  # a savepoint inside the test's transaction
        ids = bridge.store(registry.get("echo"), [Rec(1, ping(2), headers, 1001)], positions)
    statements = [q["sql"].split()[0] for q in captured.captured_queries]
    assert [s for s in statements if s not in {"SAVEPOINT", "RELEASE"}] == ["INSERT"]
    ((inbox_id, _),) = ids
    assert InboxMessage.objects.get(id=inbox_id).offset == 1


def test_a_conflict_on_the_quick_path_is_checked_and_deduplicated(tenant_key):
    # given offset 1 stored by another bridge process (this one only stored offset 0)
    headers = tenant_key.kafka_headers()
    record = Rec(1, ping(2), headers, 1001)
    handle([record])
    positions = epochs.Positions()
    handle_with(positions, [Rec(0, ping(1), headers, 1000)])

    # when this process reads offset 1 too, then a new offset
    handle_with(positions, [record])
    handle_with(positions, [Rec(2, ping(3), headers, 1002)])

    # then each record had one effect and the epoch did not move
    assert sorted(seqs(tenant_key)) == [1, 2, 3]
    assert epochs.current(GROUP, COMMANDS, 0) == 0


def test_a_reused_offset_after_the_quick_path_starts_a_new_epoch(tenant_key):
    positions = epochs.Positions()
    headers = tenant_key.kafka_headers()
    handle_with(positions, [Rec(0, ping(1), headers, 1000)])
    handle_with(positions, [Rec(1, ping(2), headers, 1001)])  # quick path
    handle_with(positions, [Rec(0, ping(3), headers, 5000)])  # the log started again
    assert seqs(tenant_key) == [1, 2, 3]
    assert epochs.current(GROUP, COMMANDS, 0) == 1
    handle_with(positions, [Rec(1, ping(4), headers, 5001)])  # continues the new epoch
    assert seqs(tenant_key) == [1, 2, 3, 4]
    assert InboxMessage.objects.filter(topic=COMMANDS, epoch=1).count() == 2
