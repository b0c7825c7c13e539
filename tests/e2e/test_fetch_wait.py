"""The bridge's fetch wait: short while records flow, the idle wait once they stop."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from kafka import KafkaProducer

from project.messaging import kafka
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e]


def test_the_fetch_wait_follows_the_records(stack, monkeypatch):
    monkeypatch.setattr(kafka.FetchWait, "IDLE_AFTER_SECONDS", 0.5)
    topic = f"FETCH_WAIT_{uuid.uuid4().hex[:8]}"
    kafka.ensure_topics([topic])
    consumer = kafka.consumer(f"fetch-wait-{uuid.uuid4().hex[:8]}")
    producer = KafkaProducer(bootstrap_servers=stack.bootstrap)
    try:
        consumer.subscribe([topic])
        wait = kafka.FetchWait(consumer)
        busy, idle = settings.KAFKA_FETCH_MAX_WAIT_MS, settings.KAFKA_FETCH_IDLE_WAIT_MS
        assert busy < idle
        assert wait.current_ms == busy  # a consumer starts as if records flowed

        def poll() -> bool:
            records = consumer.poll(timeout_ms=200)
            wait.polled(bool(records))
            return bool(records)

        # no record for a while: the idle wait
        wait_until(lambda: not poll() and wait.current_ms == idle, timeout=30, what="idle wait")
        # a record comes: back to the short wait at once
        producer.send(topic, b"x").get(timeout=10)
        wait_until(poll, timeout=30, what="the record")
        assert wait.current_ms == busy
    finally:
        producer.close()
        consumer.close()


def test_offsets_are_committed_at_most_once_an_interval_and_when_idle(stack, settings):
    from kafka import TopicPartition

    from project.messaging.bridge import OffsetCommits

    settings.KAFKA_COMMIT_INTERVAL_MS = 60_000
    topic = f"COMMITS_{uuid.uuid4().hex[:8]}"
    kafka.ensure_topics([topic])
    consumer = kafka.consumer(f"commits-{uuid.uuid4().hex[:8]}")
    producer = KafkaProducer(bootstrap_servers=stack.bootstrap)
    partition = TopicPartition(topic, 0)
    try:
        consumer.subscribe([topic])
        offsets = OffsetCommits(consumer, "test")

        def consume_one() -> None:
            producer.send(topic, b"x").get(timeout=10)
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
    finally:
        producer.close()
        consumer.close()
