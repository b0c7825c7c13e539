"""The bridge's consumer loop against the real broker: fetch wait, offset commits, linger."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import pytest
from django.conf import settings
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from project.messaging import kafka
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e]


@dataclass
class Topic:
    name: str
    consumer: KafkaConsumer  # with the bridge's settings, in a group of its own
    producer: KafkaProducer


@pytest.fixture
def topic(stack, settings):
    """A fresh topic of one partition on any broker, a bridge-configured consumer (not
    subscribed yet) and a producer."""
    name = f"FETCH_{uuid.uuid4().hex[:8]}"
    settings.KAFKA_TOPIC_PARTITIONS = 1
    kafka.ensure_topics([name])
    consumer = kafka.consumer(f"fetch-{uuid.uuid4().hex[:8]}")
    producer = KafkaProducer(bootstrap_servers=stack.bootstrap)
    try:
        yield Topic(name, consumer, producer)
    finally:
        producer.close()
        consumer.close()


def test_the_fetch_wait_follows_the_records(topic, monkeypatch):
    monkeypatch.setattr(kafka.FetchWait, "IDLE_AFTER_SECONDS", 0.5)
    consumer = topic.consumer
    consumer.subscribe([topic.name])
    wait = kafka.FetchWait(consumer)
    busy, idle = settings.KAFKA_FETCH_MAX_WAIT_MS, settings.KAFKA_FETCH_IDLE_WAIT_MS
    assert busy < idle
    assert wait.current_ms == busy  # a consumer starts as if records flowed
    assert wait.current_min_bytes == settings.KAFKA_FETCH_MIN_BYTES > 1

    def poll() -> bool:
        records = consumer.poll(timeout_ms=200)
        wait.polled(bool(records))
        return bool(records)

    # no record for a while: the idle wait
    wait_until(lambda: not poll() and wait.current_ms == idle, timeout=30, what="idle wait")
    assert wait.current_min_bytes == 1  # the first record after it is answered at once
    # a record comes: back to the short wait, gathering a few records, at once
    topic.producer.send(topic.name, b"x").get(timeout=10)
    wait_until(poll, timeout=30, what="the record")
    assert (wait.current_ms, wait.current_min_bytes) == (busy, settings.KAFKA_FETCH_MIN_BYTES)


def test_offsets_are_committed_at_most_once_an_interval_and_when_idle(topic, settings):
    from project.messaging.bridge import OffsetCommits

    settings.KAFKA_COMMIT_INTERVAL_MS = 60_000
    consumer = topic.consumer
    partition = TopicPartition(topic.name, 0)
    consumer.subscribe([topic.name])
    offsets = OffsetCommits(consumer, "test")

    def consume_one() -> None:
        topic.producer.send(topic.name, b"x").get(timeout=10)
        wait_until(lambda: consumer.poll(timeout_ms=200), timeout=30, what="a record")
        offsets.stored()

    # while records flow, no commit before the interval is over
    consume_one()
    offsets.commit(idle=False)
    assert consumer.committed(partition) is None
    # the partitions go quiet: the stored position is committed at once
    offsets.commit(idle=True)
    assert consumer.committed(partition) == 1
    consume_one()
    offsets.commit(idle=False)
    assert consumer.committed(partition) == 1
    # once the interval is over, the next batch commits
    settings.KAFKA_COMMIT_INTERVAL_MS = 0
    offsets.commit(idle=False)
    assert consumer.committed(partition) == 2


def test_the_bridge_lingers_after_a_small_batch_for_the_records_behind_it(topic, settings):
    from project.messaging import bridge

    consumer = topic.consumer
    # A long fetch wait, so the fetch kafka-python sends behind the first batch is
    # still open when the second record is produced (Tansu answers at its end).
    consumer._fetcher.config["fetch_max_wait_ms"] = 1000
    consumer.subscribe([topic.name])
    topic.producer.send(topic.name, b"first").get(timeout=10)
    first = wait_until(lambda: consumer.poll(timeout_ms=200), timeout=30, what="the first")
    topic.producer.send(topic.name, b"second").get(timeout=10)

    linger = bridge.Linger()
    linger.rate = 1000.0  # records flowing
    settings.KAFKA_BRIDGE_LINGER_MS = 0
    assert linger.gather(consumer, first) is first  # no linger: the batch as polled

    settings.KAFKA_BRIDGE_LINGER_MS = 1500
    linger.rate = 1000.0
    merged = linger.gather(consumer, first)
    assert [r.value for part in merged.values() for r in part] == [b"first", b"second"]


def test_a_batch_large_enough_or_a_trickle_is_not_held_back(topic, settings, monkeypatch):
    from project.messaging import bridge

    consumer = topic.consumer
    consumer.subscribe([topic.name])
    for value in (b"a", b"b"):
        topic.producer.send(topic.name, value).get(timeout=10)
    batch = wait_until(lambda: _poll_all(consumer, 2), timeout=30, what="both records in one poll")
    settings.KAFKA_BRIDGE_LINGER_MS = 5000
    linger = bridge.Linger()
    started = time.monotonic()
    # a trickle: no record is expected within the linger
    assert linger.rate * 5 < 1
    assert linger.gather(consumer, batch) is batch
    # a flowing stream, but the batch is large enough
    monkeypatch.setattr(bridge, "LINGER_ENOUGH", 2)
    linger.rate = 1000.0
    assert linger.gather(consumer, batch) is batch
    assert time.monotonic() - started < 1


def _poll_all(consumer, count: int) -> dict | None:
    """One poll's batch if it holds ``count`` records; otherwise seek back and try again."""
    batch = consumer.poll(timeout_ms=200)
    if sum(map(len, batch.values())) >= count:
        return batch
    for tp in batch:
        consumer.seek_to_beginning(tp)
    return None
