"""A producer, a deadline-bounded topic reader and record matchers for end-to-end tests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from project.messaging import wire
from project.messaging.models import OutboxMessage
from project.tenancy import TenantKey
from tests.waiting import wait_until


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

    def poll(self) -> list:
        """Read what has arrived (waiting a moment at most); every record read so far."""
        for batch in self.consumer.poll(timeout_ms=200).values():
            self.records.extend(batch)
        return self.records

    def catch_up(self, *, timeout: float = 30) -> list:
        """Read up to the topic's end as it is now: every record the broker had
        acknowledged when this was called is in ``records`` afterwards."""
        ends = self.consumer.end_offsets(self.partitions)
        deadline = time.monotonic() + timeout
        while any(self.consumer.position(tp) < end for tp, end in ends.items()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.topic}: not read to {ends} after {timeout} s")
            self.poll()
        return self.records

    def settled(self, tenant_key: TenantKey, *, timeout: float = 30) -> list:
        """Every record this topic carries for the tenant's outbox rows committed so
        far: waits until the relay has published them all (the broker acknowledged
        them), then reads up to the topic's end.

        Called once the inputs under test are handled (their inbox rows done): the
        outbox rows a handler writes commit with its inbox row, so nothing more can
        come from those inputs, and a test asserts exactly what arrived. A record too
        many makes that assertion fail, where waiting a fixed while could end before
        a late one.
        """
        rows = OutboxMessage.objects.filter(topic=self.topic, tenant__uuid=tenant_key.id)
        last = rows.order_by("-id").values_list("id", flat=True).first()
        if last is not None:
            wait_until(
                lambda: not rows.filter(id__lte=last, sent_at=None).exists(),
                timeout=timeout,
                what=f"{self.topic}: the relay to publish outbox rows up to {last}",
            )
        self.catch_up(timeout=timeout)
        return [record for record in self.records if of_tenant(tenant_key)(record)]

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


def of_tenant(
    tenant_key: TenantKey,
    type_: str | None = None,
    *,
    where: Callable[[dict], bool] | None = None,
    **expected: object,
) -> Callable:
    """Match records of this test's tenant (and of one type, with some values, or
    whose value ``where`` accepts)."""

    def matches(record) -> bool:
        if headers_of(record).get("TENANT_ID") != str(tenant_key.id).encode():
            return False
        value = value_of(record)
        if type_ is not None and value.get("type") != type_:
            return False
        if where is not None and not where(value):
            return False
        return all(value.get(k) == v for k, v in expected.items())

    return matches


def traced_headers(tenant_key: TenantKey, trace_id: str) -> list[tuple[str, bytes]]:
    """A command's headers with a trace and the environment ``main``, which the
    answers must carry on."""
    return [
        ("traceparent", f"00-{trace_id}-00f067aa0ba902b7-01".encode()),
        *tenant_key.kafka_headers(),
        ("ENVIRONMENT", b"main"),
    ]


def assert_headers_carried_on(record, tenant_key: TenantKey, trace_id: str) -> None:
    """An answer to a command sent with ``traced_headers``: the tenant as upstream
    writes it, the environment and the trace copied."""
    got = headers_of(record)
    assert got["TENANT_ID"] == str(tenant_key.id).encode()
    assert got["REGION"] == b"GMS"
    assert (got["MAJOR_VERSION"], got["MINOR_VERSION"]) == (b"\x00\x53", b"\x00\x01")
    assert got["ENVIRONMENT"] == b"main"
    assert wire.TraceParent.parse(got["traceparent"]).trace_id == trace_id
