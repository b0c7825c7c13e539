"""A producer and a deadline-bounded topic reader for end-to-end tests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from project.messaging import wire


class TopicReader:
    """Reads a topic from the offsets it had when the reader was made (no consumer group)."""

    def __init__(self, bootstrap: str, token: str, *, from_beginning: bool = False) -> None:
        self.topic = wire.topic_name(token)
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            consumer_timeout_ms=100,
            allow_auto_create_topics=False,  # topics must come from the processes under test
        )
        deadline = time.monotonic() + 30
        partitions = None
        while not partitions:
            partitions = self.consumer.partitions_for_topic(self.topic)
            if time.monotonic() > deadline:
                raise AssertionError(f"topic {self.topic} does not exist")
            if not partitions:
                time.sleep(0.1)
        self.partitions = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self.consumer.assign(self.partitions)
        if from_beginning:
            self.consumer.seek_to_beginning(*self.partitions)
        else:
            self.consumer.seek_to_end(*self.partitions)
        for tp in self.partitions:
            self.consumer.position(tp)  # resolve the end offset now, before anything is produced
        self.records: list = []

    def wait_for(
        self, predicate: Callable = lambda record: True, *, count: int = 1, timeout: float = 30
    ) -> list:
        """Return the first ``count`` records matching ``predicate``; fail at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            matched = [r for r in self.records if predicate(r)]
            if len(matched) >= count:
                return matched[:count]
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.topic}: {len(matched)} of {count} matching records after {timeout} s; "
                    f"saw {len(self.records)} records"
                )
            for batch in self.consumer.poll(timeout_ms=200).values():
                self.records.extend(batch)

    def drain(self, seconds: float) -> list:
        """Everything that arrives within ``seconds`` (to assert that nothing more comes)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for batch in self.consumer.poll(timeout_ms=100).values():
                self.records.extend(batch)
        return self.records

    def close(self) -> None:
        self.consumer.close()


class KafkaClient:
    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.producer = KafkaProducer(
            bootstrap_servers=bootstrap, acks="all", linger_ms=1, allow_auto_create_topics=False
        )
        self.readers: list[TopicReader] = []

    def produce(
        self,
        token: str,
        value: dict | bytes | None,
        *,
        key: bytes | None = b"\0" * 8,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        raw = json.dumps(value).encode() if isinstance(value, dict) else value
        self.producer.send(wire.topic_name(token), key=key, value=raw, headers=headers or []).get(
            timeout=20
        )

    def reader(self, token: str, *, from_beginning: bool = False) -> TopicReader:
        reader = TopicReader(self.bootstrap, token, from_beginning=from_beginning)
        self.readers.append(reader)
        return reader

    def close(self) -> None:
        for reader in self.readers:
            reader.close()
        self.producer.close()


def value_of(record) -> dict:
    return json.loads(record.value)


def headers_of(record) -> dict[str, bytes]:
    return dict(record.headers)
