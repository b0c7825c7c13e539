"""Telling a new record from a seen one when a partition's offsets start again.

Inbox rows are unique on (group, topic, partition, epoch, offset). Offsets are
reused when a topic is deleted and created again, or when the embedded broker
(memory only) restarts; taken at face value, new records would look like stored
ones and vanish without a trace, or the consumer, still at its old position,
would skip them. Three checks move a partition to a new epoch:

- the broker's topic id differs from the one the epoch was read from (a recreated
  topic): the bridge also seeks that partition to the start of the new log
  (``topic_id_changed``);
- on assignment, the log's end offset is at or before an offset already stored
  in the current epoch: the log is not the one we read (``check_log_end``);
- while storing, a stored offset of the current epoch holds a different record
  (key, value or Kafka timestamp differ): never discard it as a duplicate
  (``assign``).

A redelivered record (same offset, same record) stays a no-op.

Checking costs two queries per polled batch; ``Positions`` lets a bridge skip
them for the common batch, the one that continues the partition where this
process last stored it (see ``Positions``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Max

from project.messaging.models import InboxMessage, PartitionEpoch

logger = logging.getLogger(__name__)


def current(group: str, topic: str, partition: int) -> int:
    epoch = (
        PartitionEpoch.objects.filter(consumer_group=group, topic=topic, partition=partition)
        .values_list("epoch", flat=True)
        .first()
    )
    return epoch or 0


def bump(group: str, topic: str, partition: int, reason: str, topic_id: str | None = None) -> int:
    """Start a new epoch of the partition (inside the caller's transaction)."""
    row, _ = PartitionEpoch.objects.select_for_update().get_or_create(
        consumer_group=group, topic=topic, partition=partition
    )
    row.epoch += 1
    row.reason = reason[:1000]
    if topic_id is not None:
        row.topic_id = topic_id
    row.save()
    logger.warning(
        "%s %s[%d]: offsets were reused (%s); now epoch %d", group, topic, partition, reason,
        row.epoch,
    )  # fmt: skip
    return row.epoch


def topic_id_changed(group: str, topic: str, partition: int, topic_id: str) -> bool:
    """Record the topic id an epoch reads; a different one starts a new epoch."""
    row, created = PartitionEpoch.objects.select_for_update().get_or_create(
        consumer_group=group, topic=topic, partition=partition, defaults={"topic_id": topic_id}
    )
    if created or row.topic_id == topic_id:
        return False
    if not row.topic_id:  # first seen by this version of the bridge
        row.topic_id = topic_id
        row.save(update_fields=["topic_id", "changed_at"])
        return False
    bump(group, topic, partition, f"topic id changed from {row.topic_id} to {topic_id}", topic_id)
    return True


def check_log_end(group: str, topic: str, partition: int, end_offset: int) -> bool:
    """At assignment: a log ending at or before an offset we stored is a new log."""
    epoch = current(group, topic, partition)
    stored = InboxMessage.objects.filter(
        consumer_group=group, topic=topic, partition=partition, epoch=epoch
    ).aggregate(top=Max("offset"))["top"]
    if stored is None or end_offset > stored:
        return False
    bump(
        group, topic, partition, f"the log ends at offset {end_offset}, offset {stored} was stored"
    )
    return True


def assign(group: str, rows: list[InboxMessage]) -> None:
    """Give each row its partition's epoch, starting a new one at a reused offset."""
    by_partition: dict[tuple[str, int], list[InboxMessage]] = defaultdict(list)
    for row in rows:
        by_partition[(row.topic, row.partition)].append(row)
    for (topic, partition), part in by_partition.items():
        epoch = current(group, topic, partition)
        seen = _stored(group, topic, partition, epoch, [r.offset for r in part])
        for row in sorted(part, key=lambda r: r.offset):
            stored = seen.get(row.offset)
            if stored is not None and stored != _fingerprint(row):
                epoch = bump(group, topic, partition, f"offset {row.offset} holds another record")
                seen = {}
            row.epoch = epoch


def _stored(group: str, topic: str, partition: int, epoch: int, offsets: list[int]) -> dict:
    found = InboxMessage.objects.filter(
        consumer_group=group, topic=topic, partition=partition, epoch=epoch, offset__in=offsets
    ).values_list("offset", "key", "value", "record_timestamp")
    return {
        offset: (_bytes(key), _bytes(value), timestamp) for offset, key, value, timestamp in found
    }


def _fingerprint(row: InboxMessage) -> tuple:
    return (_bytes(row.key), _bytes(row.value), row.record_timestamp)


def _bytes(raw: bytes | memoryview | None) -> bytes | None:
    return bytes(raw) if raw is not None else None


class Positions:
    """What one bridge knows it stored: per partition, the epoch and the highest offset.

    A record above that offset cannot be one this process stored, so the batch is
    inserted as it is (``fresh``); the unique constraint still stands guard, and a
    conflict (another process stored it, or the log is not the one we read) sends
    the batch through the full check. A partition newly assigned is forgotten
    (``forget``): its first batch is always checked.
    """

    def __init__(self) -> None:
        self._known: dict[tuple[str, int], tuple[int, int]] = {}

    def fresh(self, rows: list[InboxMessage]) -> bool:
        """Give every row its epoch if all continue a known partition; else change nothing."""
        for row in rows:
            known = self._known.get((row.topic, row.partition))
            if known is None or row.offset <= known[1]:
                return False
        for row in rows:
            row.epoch = self._known[(row.topic, row.partition)][0]
        return True

    def stored(self, rows: list[InboxMessage]) -> None:
        for row in sorted(rows, key=lambda r: (r.epoch, r.offset)):
            self._known[(row.topic, row.partition)] = (row.epoch, row.offset)

    def forget(self, partitions: Iterable[tuple[str, int]]) -> None:
        for partition in partitions:
            self._known.pop(partition, None)
