"""Shadow mode end to end: notes runs beside a stand-in for its Go service.

The stand-in is a real Kafka client publishing what upstream would (the project's
own expected outputs) on the real output topic, with a difference of each kind
planted; the stack under test (broker, Redis, database, bridge, worker, relay and
the comparer of its own) must report each planted difference in its class and
nothing else. The switch test stops the stand-in in the middle of a burst and
switches ours live: every command's CREATED is on the topic exactly once, the
stand-in's or ours, also after the bridge restarts without ATLAS_SHADOW.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition

from project import embedded
from project.messaging import kafka, registry, wire
from project.messaging.models import OutboxMessage
from tests.e2e.test_one_service import query
from tests.kafka_helpers import KafkaClient, value_of
from tests.stack import ROOT, Process, Stack, wait_for_log
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e]

COMMANDS = "COMMAND_TOPIC_NOTE"
STATUS = "EVENT_TOPIC_NOTE_STATUS"
HELD = f"SELECT count(*) FROM {OutboxMessage._meta.db_table} WHERE shadow = 'held'"
# Rows the relay is to publish and has not yet: none left means ours has published
# all it will for what it has handled.
TO_PUBLISH = (
    f"SELECT count(*) FROM {OutboxMessage._meta.db_table} "
    "WHERE shadow = '' AND sent_at IS NULL AND parked_at IS NULL"
)
NUL_REASON = 'ERROR: invalid byte sequence for encoding "UTF8": 0x00 (SQLSTATE 22021)'


def create(tx: str, character: int, message: str) -> dict:
    return {
        "transactionId": tx,
        "worldId": 0,
        "channelId": 0,
        "characterId": character,
        "type": "CREATE",
        "body": {"senderId": 3, "message": message, "flag": 0},
    }


def created(tx: str, character: int, note: int, message: str) -> dict:
    """Upstream's CREATED for ``create`` (its own note id and clock)."""
    return {
        "transactionId": tx,
        "characterId": character,
        "type": "CREATED",
        "body": {
            "noteId": note,
            "senderId": 3,
            "message": message,
            "flag": 0,
            "time": "2026-12-07T10:00:00.123456789Z",
        },
    }


def create_failed(tx: str, character: int, reason: str) -> dict:
    return {
        "transactionId": tx,
        "characterId": character,
        "type": "CREATE_FAILED",
        "body": {"senderId": 3, "reason": reason},
    }


@pytest.fixture
def shadow_stack(fresh_database, tmp_path, settings):
    """A stack of the test's own running notes in shadow mode, upstream's group named."""
    upstream_group = f"Notes Service [e2e-{uuid.uuid4().hex[:6]}]"
    own = Stack(
        tmp_path,
        fresh_database,
        "project.settings",
        kafka_port=embedded.free_port(),
        redis_port=embedded.free_port(),
        extra_env={
            "ATLAS_SERVICES": "notes",
            "ATLAS_SHADOW": "notes",
            "KAFKA_CONSUMER_GROUP": upstream_group,
            "ATLAS_EXTRA_APPS": "",
            "SHADOW_WINDOW_SECONDS": "4",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        },
    )
    own.processes["shadow"] = Process(
        "shadow", [sys.executable, "manage.py", "shadow_compare"], own.env, own.dir
    )
    try:
        own.start_infrastructure()
        settings.BOOTSTRAP_SERVERS = own.bootstrap.split(",")
        assert kafka.ensure_topics(registry.all_topics()) == []
        yield own, upstream_group
    finally:
        own.close()


def manage(own: Stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=own.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def report(own: Stack) -> tuple[int, dict]:
    done = manage(own, "shadow_report", "--since", "1h", "--json")
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def start(own: Stack, *names: str) -> None:
    for name in names:
        own[name].start()
    if "bridge" in names:
        wait_for_log(own["bridge"], "subscribed to", timeout=60)
    if "worker" in names:
        wait_for_log(own["worker"], "ready.", timeout=60)
    if "shadow" in names:
        wait_for_log(own["shadow"], "shadow comparer for notes subscribed", timeout=60)


def test_each_planted_difference_is_reported_in_its_class_and_nothing_else(
    shadow_stack, fresh_database, tenant_key
):
    own, _ = shadow_stack
    start(own, "worker", "relay", "bridge", "shadow")
    client = KafkaClient(own.bootstrap)
    status = client.reader(STATUS)
    headers = tenant_key.kafka_headers()
    try:
        txs = [str(uuid.uuid4()) for _ in range(5)]
        messages = ["first", "second", "third", "fourth", "with a \x00 in it"]
        for i, (tx, message) in enumerate(zip(txs, messages, strict=True)):
            client.produce(
                COMMANDS, create(tx, 5001 + i, message), key=wire.key_u32(5001 + i), headers=headers
            )
        # (ours answered first: on a busy machine a slow start could part the two
        # sides by more than the window, which is not what this test plants)
        wait_until(lambda: query(fresh_database, HELD)[0][0] == 5, timeout=60, what="held rows")
        # upstream's answers, as the Go service would publish them, with planted differences:
        upstream = [
            created(txs[0], 5001, 9001, "first"),  # matched (its own note id: mapped)
            created(txs[1], 5002, 9002, "second"),  # matched
            created(txs[2], 5003, 9003, "third, but upstream's"),  # different: body.message
            # txs[3]: nothing upstream (missing upstream)
            create_failed(txs[4], 5005, "pq: invalid byte sequence"),  # expected: NUL reason
            created(str(uuid.uuid4()), 5006, 9004, "only upstream"),  # missing here
            # a note of upstream's from before the shadow started: no baseline
            {
                "transactionId": str(uuid.UUID(int=0)),
                "characterId": 5007,
                "type": "DELETED",
                "body": {"noteId": 777},
            },
        ]
        for value in upstream:
            key = wire.key_u32(value["characterId"])
            client.produce(STATUS, value, key=key, headers=headers)
        wanted = {
            "matched": 2,
            "different": 1,
            "expected": 1,
            "missing_upstream": 1,
            "missing_here": 1,
            "no_baseline": 1,
        }

        last: dict = {}

        def settled() -> dict | None:
            code, found = report(own)
            counts = {k: found[k] for k in wanted}
            last.update(counts)
            return (code, found) if counts == wanted else None

        try:
            code, found = wait_until(
                settled, timeout=90, interval=1, what="the planted differences"
            )
        except AssertionError as timed_out:
            # say which class fell short: the report's last counts beside the wanted ones
            raise AssertionError(f"{timed_out}; last report {last}, wanted {wanted}") from None
        assert code == 1  # unexpected differences exist
        rows = {(row["type"], row["class"]): row for row in found["by"]}
        assert set(rows) == {
            ("CREATED", "matched"),
            ("CREATED", "different"),
            ("CREATED", "missing_upstream"),
            ("CREATED", "missing_here"),
            ("CREATE_FAILED", "expected"),
            ("DELETED", "no_baseline"),
        }
        assert rows[("CREATE_FAILED", "expected")]["rule"] == "notes-nul-message-reason"
        # ours published nothing: the topic holds only the stand-in's records
        assert len(status.catch_up()) == len(upstream)
        metrics = manage(
            own,
            "shell",
            "-c",
            "from project.observability import metrics; print(metrics.exposition().decode())",
        ).stdout
        topic = wire.topic_name(STATUS)
        for type_, klass, count in [
            ("CREATED", "matched", 2),
            ("CREATED", "different", 1),
            ("CREATE_FAILED", "expected", 1),
        ]:
            line = (
                f'atlas_shadow_results_total{{class="{klass}",service="notes",'
                f'topic="{topic}",type="{type_}"}} {float(count)}'
            )
            assert line in metrics, metrics[-3000:]
    finally:
        client.close()


class StandIn:
    """The Go notes service: consumes CREATEs under upstream's group, publishes a CREATED
    for each, commits after each (as upstream's consumer does), until stopped."""

    def __init__(self, bootstrap: str, group: str, headers: list) -> None:
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=6000,
            heartbeat_interval_ms=1000,
        )
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=1)
        self.headers = headers
        self.handled = 0
        self.stop = threading.Event()
        self.consumer.subscribe([wire.topic_name(COMMANDS)])
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop.is_set():
            for records in self.consumer.poll(timeout_ms=100, max_records=1).values():
                for record in records:
                    command = value_of(record)
                    answer = created(
                        command["transactionId"],
                        command["characterId"],
                        100_000 + record.offset,
                        command["body"]["message"],
                    )
                    self.producer.send(
                        wire.topic_name(STATUS),
                        key=record.key,
                        value=json.dumps(answer).encode(),
                        headers=self.headers,
                    ).get(timeout=20)
                    tp = TopicPartition(record.topic, record.partition)
                    meta = OffsetAndMetadata(record.offset + 1, "", -1)
                    self.consumer.commit({tp: meta})
                    self.handled += 1
        self.consumer.close()
        self.producer.close()

    def halt(self) -> None:
        self.stop.set()
        self.thread.join(30)


@pytest.mark.parametrize("burst", [60])
def test_a_switch_in_the_middle_of_a_burst_loses_nothing_and_publishes_nothing_twice(
    shadow_stack, fresh_database, tenant_key, burst
):
    own, upstream_group = shadow_stack
    start(own, "worker", "relay", "bridge")
    client = KafkaClient(own.bootstrap)
    status = client.reader(STATUS)
    headers = tenant_key.kafka_headers()
    go = StandIn(own.bootstrap, upstream_group, headers)
    txs = [str(uuid.uuid4()) for _ in range(burst)]
    try:
        for i, tx in enumerate(txs):
            character = 6000 + i % 7
            client.produce(
                COMMANDS,
                create(tx, character, f"note {i}"),
                key=wire.key_u32(character),
                headers=headers,
            )
            if i == burst // 3:  # both sides under way: the stand-in and our shadow
                wait_until(lambda: go.handled >= burst // 4, timeout=60, what="the stand-in")
                wait_until(
                    lambda: query(fresh_database, HELD)[0][0] > 0, timeout=60, what="held rows"
                )
            if i == burst // 2:  # the Go service stops; ours is switched live mid-burst
                go.halt()
                switched = manage(own, "shadow_switch", "notes")
                assert switched.returncode == 0, switched.stderr
                assert "notes is live" in switched.stdout
                # ours had held what the records before the boundary caused: never published
                held = re.search(r"held rows: (\d+) were upstream's", switched.stdout)
                assert held and int(held[1]) > 0, switched.stdout
            time.sleep(0.02)
        assert 0 < go.handled < burst

        def every_tx_answered() -> bool:
            status.poll()
            seen = {value_of(r)["transactionId"] for r in status.records}
            return set(txs) <= seen

        wait_until(every_tx_answered, timeout=120, interval=0.5, what="a CREATED for each CREATE")
        # every input is answered, so nothing more is handled: once the relay has
        # published all it holds, the topic's end has everything either side sent
        wait_until(
            lambda: query(fresh_database, TO_PUBLISH)[0][0] == 0, timeout=60, what="the relay"
        )
        status.catch_up()
        answers = [value_of(r)["transactionId"] for r in status.records]
        doubled = {tx for tx in answers if answers.count(tx) > 1}
        assert not doubled, f"{len(doubled)} commands answered twice"
        assert sorted(answers) == sorted(txs)
        assert (
            "live"
            in manage(
                own,
                "shell",
                "-c",
                "from project.shadow.models import ShadowService as S; "
                "print(S.objects.get(app='notes').state)",
            ).stdout
        )

        # The next deploy: ATLAS_SHADOW cleared, the Go service's KAFKA_CONSUMER_GROUP
        # still set. The bridge keeps the group it was switched with; under upstream's,
        # whose offsets stopped at the boundary, it would answer every command after
        # the boundary a second time.
        own["bridge"].stop()
        own["bridge"].lines.clear()
        own["bridge"].start({"ATLAS_SHADOW": ""})
        wait_for_log(own["bridge"], "subscribed to", timeout=60)
        assert "the group it was switched with" in own["bridge"].output()
        later = [str(uuid.uuid4()) for _ in range(5)]
        for tx in later:
            client.produce(
                COMMANDS, create(tx, 6100, "after"), key=wire.key_u32(6100), headers=headers
            )
        txs += later
        wait_until(every_tx_answered, timeout=120, interval=0.5, what="the later CREATEs")
        wait_until(
            lambda: query(fresh_database, TO_PUBLISH)[0][0] == 0, timeout=60, what="the relay"
        )
        status.catch_up()
        answers = [value_of(r)["transactionId"] for r in status.records]
        assert sorted(answers) == sorted(txs)
    finally:
        if go.thread.is_alive():
            go.halt()
        client.close()
