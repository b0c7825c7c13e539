"""Counts and log lines of the hooks, in-process through the real bridge and inbox code.

A batch whose middle row fails runs again row by row; the rows of the first, rolled
back attempt must count (and log) nothing.
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from collections import namedtuple

import pytest
from prometheus_client import REGISTRY

from project.messaging import bridge, inbox, registry, wire
from project.messaging.models import InboxMessage
from project.tenancy import TenantKey

Record = namedtuple("Record", "topic partition offset key value headers")
TOPIC = wire.topic_name("COMMAND_TOPIC_ECHO")
INPUT = wire.topic_name("EVENT_TOPIC_ECHO_INPUT")


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def ping(id_: int, seq: int, **flags: bool) -> bytes:
    body = {"id": id_, "seq": seq, **flags}
    return json.dumps({"transactionId": str(uuid.uuid4()), "type": "PING", "body": body}).encode()


def records(tenant: TenantKey, values: list[tuple[str, bytes]], key: bytes) -> list[Record]:
    base = random.randrange(10**9, 10**12)
    headers = tenant.kafka_headers()
    return [
        Record(topic, 0, base + i, key, value, headers) for i, (topic, value) in enumerate(values)
    ]


@pytest.mark.django_db(transaction=True)
def test_a_batch_rerun_row_by_row_counts_and_logs_each_row_once(caplog):
    tenant = TenantKey(uuid.uuid4(), "GMS", 83, 1)
    id_ = random.randrange(1, 2**32)
    spec = registry.consumers()["echo"]
    batch = records(
        tenant,
        [
            (TOPIC, ping(id_, 1)),
            (TOPIC, ping(id_, 2, broken=True)),
            (TOPIC, ping(id_, 3)),
            (TOPIC, b"{not json"),
            (INPUT, json.dumps({"characterId": 1, "type": "IGNORED"}).encode()),
        ],
        wire.key_u32(id_),
    )
    names = ["atlas_records_handled_total", "atlas_handler_failures_total"]
    before = {name: sample(name, app="echo", topic=TOPIC) for name in names}
    dead_before = {
        stage: sample("atlas_records_dead_total", app="echo", topic=TOPIC, stage=stage)
        for stage in ("bridge", "worker")
    }
    skipped_before = sample("atlas_records_skipped_total", app="echo", topic=INPUT)

    # when the bridge stores the batch and a worker drains the key
    pending = bridge.store(spec, batch)
    with caplog.at_level(logging.INFO, logger="project.handled"):
        for inbox_id, ordering_key in pending:
            inbox.process(inbox_id, ordering_key)

    # then two rows are handled, one is dead, each logged once, in order
    lines = [r for r in caplog.records if r.name == "project.handled"]
    assert [(r.outcome, json.loads(InboxMessage.objects.get(id=r.inbox_id).value)["body"]["seq"])
            for r in lines] == [("done", 1), ("dead", 2), ("done", 3)]  # fmt: skip
    assert all(r.app == "echo" and r.type == "PING" and r.tenant == str(tenant) for r in lines)
    assert all(r.key == wire.key_u32(id_).hex() and r.duration_ms > 0 for r in lines)
    assert sample("atlas_records_handled_total", app="echo", topic=TOPIC) - before[names[0]] == 2
    assert sample("atlas_handler_failures_total", app="echo", topic=TOPIC) - before[names[1]] == 1
    dead = {
        stage: sample("atlas_records_dead_total", app="echo", topic=TOPIC, stage=stage)
        - dead_before[stage]
        for stage in ("bridge", "worker")
    }
    assert dead == {"bridge": 1, "worker": 1}
    assert sample("atlas_records_skipped_total", app="echo", topic=INPUT) - skipped_before == 1


@pytest.mark.django_db(transaction=True)
def test_a_row_the_worker_cannot_decode_is_counted_and_logged_dead(caplog):
    tenant = TenantKey(uuid.uuid4(), "GMS", 83, 1)
    id_ = random.randrange(1, 2**32)
    ((inbox_id, ordering_key),) = bridge.store(
        registry.consumers()["echo"], records(tenant, [(TOPIC, ping(id_, 1))], wire.key_u32(id_))
    )
    # a replayed dead letter that is still bad
    InboxMessage.objects.filter(id=inbox_id).update(value=b"{still bad")
    before = sample("atlas_records_dead_total", app="echo", topic=TOPIC, stage="worker")

    with caplog.at_level(logging.INFO, logger="project.handled"):
        inbox.process(inbox_id, ordering_key)

    assert InboxMessage.objects.get(id=inbox_id).state == InboxMessage.State.DEAD
    (line,) = [r for r in caplog.records if r.name == "project.handled"]
    assert line.outcome == "dead" and line.duration_ms is None
    assert sample("atlas_records_dead_total", app="echo", topic=TOPIC, stage="worker") == before + 1
