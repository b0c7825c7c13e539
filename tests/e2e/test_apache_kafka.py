"""What only a real Apache Kafka cluster can show: a group of two bridges sharing the
partitions, a rebalance in the middle of a burst, the broker killed and restarted
with its log on disk, a cluster of three brokers losing one, and a topic the
cluster refuses to create (the bridge goes on with its other topics, the relay with
the other topics' rows).

Each test runs on a broker, Redis, bridge, worker and relay of its own (the session's
stack stays untouched) and checks the same three things: every acknowledged command
had its effect exactly once, in the order of its key, and its event was published.
Run with ``bin/test --kafka`` (CI does); on the embedded broker they are skipped.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
import uuid
from collections import defaultdict

import pytest
from django.db import transaction
from kafka import KafkaAdminClient, KafkaProducer

from project import apache_kafka, embedded
from project.messaging import bus, wire
from project.messaging.models import OutboxMessage, PartitionEpoch
from project.tenancy.rows import tenant_row
from tests.echo.handlers import COMMAND_TOPIC_ECHO, EVENT_TOPIC_ECHO, EVENT_TOPIC_ECHO_INPUT
from tests.echo.models import Effect
from tests.kafka_helpers import KafkaClient, TopicReader, value_of
from tests.stack import BROKER, Process, Stack, stack_of_its_own, wait_for_log
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(BROKER != "kafka", reason="needs Apache Kafka: bin/test --kafka"),
]

TOPIC = wire.topic_name(COMMAND_TOPIC_ECHO)
GROUP = "Echo Service"
KEYS = list(range(9100, 9112))


def ping(key: int, seq: int) -> bytes:
    body = {"id": key, "seq": seq}
    return wire.dumps({"transactionId": str(uuid.uuid4()), "type": "PING", "body": body})


class Load(threading.Thread):
    """PINGs for a dozen keys, seq 1, 2, 3 … per key, at about ``rate`` a second.

    Each send is acknowledged (all in-sync replicas) before the next, so a key's
    records are in the log in seq order; the producer is idempotent and retries
    through a broker outage (up to two minutes), so none is written twice.
    """

    def __init__(self, bootstrap: str, tenant_key, *, rate: float = 100) -> None:
        super().__init__(daemon=True)
        self.producer = KafkaProducer(
            bootstrap_servers=bootstrap.split(","),
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=10_000,
            delivery_timeout_ms=120_000,
        )
        self.headers = tenant_key.kafka_headers()
        self.interval = 1 / rate
        self.acked: dict[int, int] = dict.fromkeys(KEYS, 0)
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        seq = 0
        try:
            while not self.halt.is_set():
                seq += 1
                for key in KEYS:
                    self._send(key, seq)
                    self.acked[key] = seq
                    time.sleep(self.interval)
        except BaseException as exc:
            self.error = exc

    def _send(self, key: int, seq: int) -> None:
        future = self.producer.send(
            TOPIC, key=wire.key_u32(key), value=ping(key, seq), headers=self.headers
        )
        future.get(timeout=130)

    @property
    def count(self) -> int:
        return sum(self.acked.values())

    def finish(self) -> dict[int, int]:
        self.halt.set()
        self.join(150)
        self.producer.close()
        assert self.error is None, f"the load's producer failed: {self.error!r}"
        return dict(self.acked)


def burst(bootstrap: str, tenant_key, per_key: int) -> dict[int, int]:
    """``per_key`` PINGs for each key, sent at once (kept in order per key)."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap.split(","), acks="all", enable_idempotence=True, linger_ms=5
    )
    futures = []
    for seq in range(1, per_key + 1):
        for key in KEYS:
            body = {
                "transactionId": str(uuid.uuid4()),
                "type": "PING",
                "body": {"id": key, "seq": seq},
            }
            futures.append(
                producer.send(
                    TOPIC,
                    key=wire.key_u32(key),
                    value=wire.dumps(body),
                    headers=tenant_key.kafka_headers(),
                )
            )
    producer.flush(60)
    for future in futures:
        future.get(timeout=1)
    producer.close()
    return dict.fromkeys(KEYS, per_key)


def effects(tenant_key) -> dict[int, list[int]]:
    seqs: dict[int, list[int]] = defaultdict(list)
    rows = Effect.objects.filter(tenant__uuid=tenant_key.id).order_by("id")
    for key, seq in rows.values_list("key_id", "seq"):
        seqs[key].append(seq)
    return seqs


def handled_count(tenant_key) -> int:
    return Effect.objects.filter(tenant__uuid=tenant_key.id).count()


def assert_each_once_in_order(stack: Stack, tenant_key, acked: dict[int, int]) -> None:
    """Every acknowledged PING handled exactly once, in seq order per key, and its PONG
    published (at least once: a relay that lost a broker mid-send sends again)."""
    expected = sum(acked.values())
    wait_until(
        lambda: handled_count(tenant_key) >= expected,
        timeout=120,
        interval=0.5,
        what=f"{expected} PINGs handled",
    )
    seqs = effects(tenant_key)
    for key, last in acked.items():
        assert seqs[key] == list(range(1, last + 1)), f"key {key}: {seqs[key]}"
    assert handled_count(tenant_key) == expected
    pongs = TopicReader(stack.bootstrap, EVENT_TOPIC_ECHO, from_beginning=True)
    try:
        wanted = {(key, seq) for key, last in acked.items() for seq in range(1, last + 1)}

        def published() -> set[tuple[int, int]]:
            return {(value_of(r)["id"], value_of(r)["seq"]) for r in pongs.poll()} & wanted

        try:
            wait_until(lambda: published() == wanted, timeout=90, interval=0, what="every PONG")
        except AssertionError:
            outbox = OutboxMessage.objects.filter(tenant__uuid=tenant_key.id)
            raise AssertionError(
                f"{len(published())} of {len(wanted)} PONGs published; outbox rows: "
                f"{outbox.count()}, unsent {outbox.filter(sent_at=None).count()}; relay:\n"
                + stack["relay"].output()[-2000:]
            ) from None
    finally:
        pongs.close()


def members(bootstrap: str, group: str = GROUP) -> dict[str, set[tuple[str, int]]]:
    """Member id -> the partitions the group coordinator assigned it."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","), client_id="atlas-test")
    try:
        described = admin.describe_groups([group])[group]
    finally:
        admin.close()
    if described["group_state"] != "Stable":
        return {}
    return {
        member["member_id"]: {
            (assigned["topic"], partition)
            for assigned in (member["member_assignment"] or {}).get("assigned_partitions", [])
            for partition in assigned["partitions"]
        }
        for member in described["members"]
    }


def shared_by(bootstrap: str, count: int) -> dict[str, set] | None:
    """The group's members when exactly ``count`` hold partitions of the command topic."""
    now = members(bootstrap)
    holding = [m for m, parts in now.items() if any(t == TOPIC for t, _ in parts)]
    return now if len(now) == count and len(holding) == count else None


@pytest.fixture
def relay_of(stack):
    """Make the relay of a test's own stack the leader: relays elect one per database,
    and the session's, which shares the test database, would publish to its broker."""
    owners: list[Stack] = []

    def lead(own: Stack) -> None:
        stack["relay"].stop()
        own["relay"].start()
        wait_for_log(own["relay"], "relay is the leader", timeout=60)
        owners.append(own)

    yield lead
    for own in owners:
        own["relay"].stop()
    if owners:
        stack["relay"].start()
        wait_for_log(stack["relay"], "relay is the leader", timeout=60)


def second_bridge(stack: Stack) -> Process:
    return Process("bridge-2", stack["bridge"].command, stack.env, stack.dir).start()


def wait_for_group(bootstrap: str, count: int, bridges: list[Process], what: str) -> None:
    """Until ``count`` bridges share the partitions; else fail with where each bridge's
    threads were (SIGUSR1: the bridge prints its stacks)."""
    try:
        wait_until(lambda: shared_by(bootstrap, count), timeout=90, interval=0.5, what=what)
    except AssertionError as exc:
        for bridge in bridges:
            bridge.signal(signal.SIGUSR1)
        with contextlib.suppress(AssertionError):
            wait_until(
                lambda: all("most recent call first" in b.output() for b in bridges),
                timeout=5,
                what="the stacks",
            )
        said = "\n".join(f"--- {b.name}:\n{b.output()[-6000:]}" for b in bridges)
        raise AssertionError(f"{exc}; group {members(bootstrap)}\n{said}") from None


def test_two_bridges_share_the_partitions_and_one_takes_over_when_killed(
    private_stack, relay_of, transactional_db, tenant_key
):
    own = private_stack
    relay_of(own)
    other = second_bridge(own)
    try:
        # given two bridges in one group, each holding some of the 3 partitions
        wait_for_group(own.bootstrap, 2, [own["bridge"], other], "2 bridges")
        load = Load(own.bootstrap, tenant_key)
        load.start()
        wait_until(lambda: handled_count(tenant_key) >= 200, timeout=60, what="200 handled")

        # when one of them is killed outright while commands keep coming
        own["bridge"].kill()
        wait_for_group(own.bootstrap, 1, [other], "the takeover")
        wait_until(lambda: load.count >= 600, timeout=60, what="600 sent")
        acked = load.finish()

        # then the other holds every partition, and nothing was lost or applied twice
        (survivor,) = members(own.bootstrap).values()
        assert {p for t, p in survivor if t == TOPIC} == {0, 1, 2}
        assert_each_once_in_order(own, tenant_key, acked)
        assert other.alive
    finally:
        other.stop()


def test_a_rebalance_in_the_middle_of_a_burst_loses_and_repeats_nothing(
    private_stack, relay_of, transactional_db, tenant_key
):
    own = private_stack
    relay_of(own)
    wait_until(lambda: shared_by(own.bootstrap, 1), timeout=60, interval=0.5, what="1 bridge")
    # given a burst of 3,600 commands being worked through by one bridge
    acked = burst(own.bootstrap, tenant_key, per_key=300)
    wait_until(lambda: handled_count(tenant_key) >= 100, timeout=60, what="the burst under way")
    assert handled_count(tenant_key) < 3600, "the burst was over before the rebalance"

    # when a second bridge joins the group, and later leaves it, in the middle of it
    other = second_bridge(own)
    try:
        wait_for_group(own.bootstrap, 2, [own["bridge"], other], "2 bridges")
    finally:
        other.stop()

    # then every command was handled once, in order, and its event published
    assert_each_once_in_order(own, tenant_key, acked)


def test_the_broker_killed_and_restarted_under_load_keeps_its_log(
    private_stack, relay_of, transactional_db, tenant_key
):
    own = private_stack
    relay_of(own)
    load = Load(own.bootstrap, tenant_key)
    load.start()
    wait_until(lambda: handled_count(tenant_key) >= 200, timeout=60, what="200 handled")
    epochs_before = partition_epochs()

    # when the broker is killed (-9) under load and started again on its data
    own.stop_kafka()  # down until its JVM is up again: the load's sends wait meanwhile
    own.start_kafka()
    before = load.count
    wait_until(lambda: load.count >= before + 300, timeout=120, what="300 sent after")
    acked = load.finish()

    # then nothing was lost or applied twice, and the log was the same one throughout:
    # offsets went on, no partition started a new epoch (unlike the memory-only broker)
    assert_each_once_in_order(own, tenant_key, acked)
    assert partition_epochs() == epochs_before
    assert own["bridge"].alive and own["relay"].alive


def partition_epochs() -> dict[int, int]:
    rows = PartitionEpoch.objects.filter(consumer_group=GROUP, topic=TOPIC)
    return dict(rows.values_list("partition", "epoch"))


@pytest.fixture
def three_brokers(stack, relay_of, tmp_path):
    """Three KRaft nodes (each broker and controller), topics replicated three times
    with ``min.insync.replicas=2``, and a bridge, worker and relay of their own."""
    cluster = apache_kafka.LocalKafka(
        tmp_path / "kafka",
        [embedded.free_port() for _ in range(3)],
        [embedded.free_port() for _ in range(3)],
        log_dir=tmp_path,
    )
    own = stack_of_its_own(
        tmp_path, broker=cluster, extra_env={"KAFKA_TOPIC_REPLICATION_FACTOR": "3"}
    )
    own["bridge"].command += ["--apps", "echo"]  # the group under test, no other joins
    try:
        own.start_infrastructure()
        for name in ("bridge", "worker"):
            own[name].start()
        wait_for_log(own["bridge"], "subscribed to", timeout=90)
        wait_for_log(own["worker"], "ready.", timeout=60)
        relay_of(own)
        yield own, cluster
    finally:
        own.close()


def test_a_cluster_of_three_goes_on_when_a_broker_is_killed(three_brokers, transactional_db,
                                                           tenant_key):  # fmt: skip
    own, cluster = three_brokers
    wait_until(lambda: shared_by(own.bootstrap, 1), timeout=90, interval=0.5, what="the bridge")
    described = _describe(own.bootstrap, TOPIC)
    assert [len(p["replica_nodes"]) for p in described["partitions"]] == [3, 3, 3]
    load = Load(own.bootstrap, tenant_key)
    load.start()
    wait_until(lambda: handled_count(tenant_key) >= 200, timeout=60, what="200 handled")

    # when one broker is killed (-9) under load and stays down
    cluster.kill_node(0)
    before = load.count
    wait_until(lambda: load.count >= before + 400, timeout=120, what="400 sent after the kill")
    acked = load.finish()

    # then the pipeline went on with two: everything handled once, in order, published
    assert_each_once_in_order(own, tenant_key, acked)
    assert not cluster.alive(0)
    assert own["bridge"].alive and own["relay"].alive


def _describe(bootstrap: str, topic: str) -> dict:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","), client_id="atlas-test")
    try:
        (described,) = admin.describe_topics([topic])
        return described
    finally:
        admin.close()


def test_a_topic_that_cannot_be_created_is_said_in_one_line(stack, transactional_db, tenant_key):
    suffix = uuid.uuid4().hex[:8]
    missing, present = f"ECHO_MISSING_{suffix}", wire.topic_name(EVENT_TOPIC_ECHO_INPUT)
    client = KafkaClient(stack.bootstrap)
    # given a bridge whose command topic is missing and that may only create topics
    # with three replicas, which a single broker cannot hold (in a group of its own,
    # so that it, not the session's bridge, consumes the echo app's other topic)
    bridge = Process(
        "bridge-missing",
        [sys.executable, "manage.py", "kafka_bridge", "--apps", "echo"],
        {
            **stack.env,
            COMMAND_TOPIC_ECHO: missing,
            "KAFKA_TOPIC_REPLICATION_FACTOR": "3",
            "KAFKA_CONSUMER_GROUP_ECHO": f"missing-topic-{suffix}",
        },
        stack.dir,
    ).start()
    try:
        # then it says so in one line naming the topic, its setting and the cause
        line = f"topic '{missing}' (set by COMMAND_TOPIC_ECHO) does not exist and cannot be created"
        wait_for_log(bridge, line, timeout=60)
        said = [text for text in bridge.output().splitlines() if line in text]
        assert len(said) == 1 and "InvalidReplicationFactor" in said[0], said
        # and it goes on with the topic it has: a SEEN event there is handled
        body = {"characterId": 4711, "type": "SEEN"}
        client.producer.send(
            present, value=wire.dumps(body), headers=tenant_key.kafka_headers()
        ).get(timeout=20)
        try:
            wait_until(
                lambda: Effect.objects.filter(tenant__uuid=tenant_key.id, key_id=4711).exists(),
                timeout=60,
                what="the SEEN event handled",
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the bridge said:\n{bridge.output()[-3000:]}") from None
        assert bridge.alive
        assert sum(line in text for text in bridge.output().splitlines()) == 1
    finally:
        bridge.stop()
        client.close()


def test_the_relay_keeps_a_missing_topics_rows_and_publishes_the_others(
    stack, transactional_db, tenant_key
):
    suffix = uuid.uuid4().hex[:8]
    nowhere = f"ECHO_NOWHERE_{suffix}"
    pongs = TopicReader(stack.bootstrap, EVENT_TOPIC_ECHO)
    # given a relay that may only create topics with three replicas, on one broker
    relay = Process(
        "relay-missing",
        [sys.executable, "manage.py", "outbox_relay"],
        {**stack.env, "KAFKA_TOPIC_REPLICATION_FACTOR": "3"},
        stack.dir,
    )
    stack["relay"].stop()
    relay.start()
    try:
        wait_for_log(relay, "relay is the leader", timeout=60)
        # when a row for a topic that does not exist comes before one for a topic that does
        tenant = tenant_row(tenant_key)
        with transaction.atomic():
            stuck = bus.emit(tenant=tenant, topic=nowhere, key=b"k", value={"id": 1})
            bus.emit(tenant=tenant, topic=EVENT_TOPIC_ECHO, key=b"k", value={"id": 4712, "seq": 2})

        # then the relay says which topic and why, in one line, publishes the other row
        line = f"topic '{nowhere}' does not exist and cannot be created"
        wait_for_log(relay, line, timeout=60)
        pongs.wait_for(lambda r: value_of(r).get("id") == 4712, timeout=60)
        # and keeps the stuck row, unsent and not parked, for when the topic exists
        stuck.refresh_from_db()
        assert stuck.sent_at is None and stuck.parked_at is None
        assert relay.output().count(line) == 1
    finally:
        pongs.close()
        relay.stop()
        OutboxMessage.objects.filter(topic=nowhere).delete()  # not for the session's relay
        stack["relay"].start()
        wait_for_log(stack["relay"], "relay is the leader", timeout=60)
