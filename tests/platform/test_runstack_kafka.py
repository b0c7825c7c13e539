"""``manage.py runstack --kafka``: the whole stack on a local Apache Kafka whose data
lives in the stack's data directory, so a stop and a start keep topics, records and
the consumer groups' offsets.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from project import embedded
from project.messaging import wire
from project.tenancy import TenantKey
from tests.echo.handlers import COMMAND_TOPIC_ECHO, EVENT_TOPIC_ECHO
from tests.platform.test_runstack import ROOT, Lines, descendants, still_running
from tests.stack import BROKER
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(BROKER != "kafka", reason="needs Apache Kafka: bin/test --kafka"),
]

COMMANDS = wire.topic_name(COMMAND_TOPIC_ECHO)
EVENTS = wire.topic_name(EVENT_TOPIC_ECHO)
GROUP = "Echo Service"


class RunStack:
    """``runstack --kafka`` as a subprocess on fixed ports and one data directory."""

    def __init__(self, tmp_path) -> None:
        self.ports = {name: embedded.free_port() for name in ("kafka", "redis", "web", "flower")}
        self.bootstrap = f"127.0.0.1:{self.ports['kafka']}"
        # The project's settings plus the echo app; none of the test run's servers.
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"BOOTSTRAP_SERVERS", "REDIS_URL", "PYTEST_CURRENT_TEST"}
            and not key.startswith("ATLAS_")
            and key != "KAFKA_TOPIC_PARTITIONS"
        }
        self.env.update(
            DJANGO_SETTINGS_MODULE="project.settings",
            ATLAS_EXTRA_APPS="tests.echo",
            ATLAS_DATA_DIR=str(tmp_path / "data"),
            DATABASE_URL=os.environ.get("DATABASE_URL") or f"sqlite:///{tmp_path}/atlas.sqlite3",
            NO_COLOR="1",
        )
        self.process: subprocess.Popen | None = None
        self.output: Lines | None = None
        self.tree: dict[int, str] = {}

    def start(self) -> None:
        p = self.ports
        command = [
            sys.executable, "manage.py", "runstack", "--kafka",
            "--kafka-port", str(p["kafka"]), "--redis-port", str(p["redis"]),
            "--web-port", str(p["web"]), "--flower-port", str(p["flower"]), "--workers", "1",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self.output = Lines(self.process.stdout)

        def ready() -> bool:
            assert self.process.poll() is None, f"runstack exited:\n{self.output.text()}"
            text = self.output.text()
            return "stack   | ready in" in text and "relay is the leader" in text

        wait_until(ready, timeout=120, interval=0.2, what="the stack on Apache Kafka")
        wait_until(
            lambda: "'Echo Service' subscribed to" in self.output.text(),
            timeout=60,
            what="the echo app's consumer",
        )
        self.tree = descendants(self.process.pid)

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=60) == 0, self.output.text()[-3000:]
        self.output.thread.join(5)
        assert not [pid for pid, start in self.tree.items() if still_running(pid, start)]
        return self.output.text()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.tree.update(descendants(self.process.pid))
            self.process.kill()
            self.process.wait()
        for pid, start in self.tree.items():
            if still_running(pid, start):
                os.kill(pid, signal.SIGKILL)


def ping(tenant: TenantKey, bootstrap: str, id_: int) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    body = {"transactionId": str(uuid.uuid4()), "type": "PING", "body": {"id": id_, "seq": 1}}
    producer.send(
        COMMANDS, key=wire.key_u32(id_), value=wire.dumps(body), headers=tenant.kafka_headers()
    ).get(timeout=30)
    producer.close()


def pongs(bootstrap: str) -> list[int]:
    """The ids of every PONG in the event topic, from its first offset."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = [TopicPartition(EVENTS, p) for p in consumer.partitions_for_topic(EVENTS) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        ids: list[int] = []
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            for batch in consumer.poll(timeout_ms=500).values():
                ids.extend(wire.loads(r.value)["id"] for r in batch)
        return sorted(ids)
    finally:
        consumer.close()


def logs(bootstrap: str) -> tuple[dict, dict]:
    """End offsets of the command topic, and the echo group's committed offsets there."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="atlas-test")
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        parts = [TopicPartition(COMMANDS, p) for p in consumer.partitions_for_topic(COMMANDS)]
        ends = {tp.partition: end for tp, end in consumer.end_offsets(parts).items()}
        committed = {
            tp.partition: meta.offset
            for tp, meta in admin.list_group_offsets(GROUP)[GROUP].items()
            if tp.topic == COMMANDS
        }
        return ends, committed
    finally:
        consumer.close()
        admin.close()


def test_a_stop_and_a_start_on_the_same_data_keep_records_and_offsets(tmp_path):
    stack = RunStack(tmp_path)
    tenant = TenantKey(uuid.uuid4(), "GMS", 83, 1)
    try:
        # given the stack on Apache Kafka, five commands handled and their events out
        stack.start()
        for id_ in range(1, 6):
            ping(tenant, stack.bootstrap, id_)
        wait_until(lambda: pongs(stack.bootstrap) == [1, 2, 3, 4, 5], timeout=60, what="pongs")
        wait_until(
            lambda: sum(logs(stack.bootstrap)[1].values()) == 5,
            timeout=30,
            what="the bridge's offsets committed",
        )
        ends, committed = logs(stack.bootstrap)
        assert len(ends) == 3 and committed == ends

        # when it is stopped and started again on the same data directory
        text = stack.stop()
        assert "formatted new" in text
        stack.start()

        # then the broker kept its data: topics, records, the group's offsets
        assert "(kept)" in stack.output.text()
        assert logs(stack.bootstrap) == (ends, committed)
        assert pongs(stack.bootstrap) == [1, 2, 3, 4, 5]
        # and the bridge goes on from there: a new command is handled, no old one again
        ping(tenant, stack.bootstrap, 6)
        wait_until(lambda: pongs(stack.bootstrap) == [1, 2, 3, 4, 5, 6], timeout=60, what="6")
        stack.stop()
    finally:
        stack.kill()
