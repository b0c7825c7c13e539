"""Consumer-group membership of the bridge on the embedded broker (see
``project.messaging.liveness``): a bridge stopped while joining does not leave its
group stuck; an idle member does not rejoin while another consumes; a member with
nothing assigned rejoins when nobody consumes a partition with records waiting.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid

import pytest
from kafka import KafkaProducer

from project.messaging import kafka, liveness, wire
from project.messaging.models import InboxMessage
from tests.echo.handlers import COMMAND_TOPIC_ECHO
from tests.echo.models import Effect
from tests.stack import Process, wait_for_log
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e]

TOPIC = wire.topic_name(COMMAND_TOPIC_ECHO)
ECHO_SUBSCRIBED = "subscribed to ['COMMAND_TOPIC_ECHO'"


def _pinger(bootstrap: str, tenant_key):
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")

    def send(seq: int) -> None:
        body = {"transactionId": str(uuid.uuid4()), "type": "PING", "body": {"id": seq, "seq": seq}}
        producer.send(
            TOPIC, key=wire.key_u32(seq), value=wire.dumps(body), headers=tenant_key.kafka_headers()
        ).get(timeout=20)

    return producer, send


def test_a_bridge_stopped_while_joining_leaves_its_group_usable(
    private_stack, transactional_db, tenant_key
):
    # Before the fix, the next bridge's group had no partition assigned to anyone,
    # for minutes (4 of 4 runs): the stopped member's LeaveGroup came half-way
    # through its join, and Tansu kept it as the leader of the forming group.
    own = private_stack
    bridge = own["bridge"]
    producer, send = _pinger(own.bootstrap, tenant_key)
    try:
        # given a bridge that has just subscribed (its join is under way)
        wait_for_log(bridge, ECHO_SUBSCRIBED, timeout=60)
        # when it is stopped at once and started again
        bridge.stop()
        bridge.start()
        wait_for_log(bridge, ECHO_SUBSCRIBED, timeout=60)
        send(8601)
        # then the new bridge gets the partition and the command is handled
        wait_until(
            lambda: Effect.objects.filter(tenant__uuid=tenant_key.id, seq=8601).exists(),
            timeout=60,
            what="the ping handled by the restarted bridge",
        )
    finally:
        producer.close()


def test_an_idle_second_bridge_does_not_rejoin_while_the_other_consumes(
    private_stack, transactional_db, tenant_key
):
    own = private_stack
    second = Process(
        "bridge2",
        [sys.executable, "manage.py", "kafka_bridge", "--apps", "echo"],
        own.env,
        own.dir,
    )
    producer, send = _pinger(own.bootstrap, tenant_key)

    def stored() -> int:
        return InboxMessage.objects.filter(tenant__uuid=tenant_key.id).count()

    try:
        # given two bridges in the echo group (on Tansu its topic has one partition:
        # one of them idle; on Apache Kafka three, shared)
        second.start()
        wait_for_log(second, ECHO_SUBSCRIBED, timeout=60)
        send(0)
        wait_until(lambda: stored() == 1, timeout=60, what="the first ping stored")

        # when commands keep coming for longer than the idle member's check needs
        # to decide (no partition for 10 s, then an offset standing still for 11 s)
        began = time.monotonic()
        seq = 1
        while time.monotonic() - began < 40:
            send(seq)
            seq += 1
            wait_until(lambda n=seq: stored() == n, timeout=30, what=f"ping {seq - 1} stored")

        # then each was stored once, and neither bridge joined again
        assert stored() == seq
        for bridge in (own["bridge"], second):
            assert "rejoining the group" not in bridge.output()
            assert bridge.output().count(ECHO_SUBSCRIBED) == 1
    finally:
        producer.close()
        second.stop()


def test_a_member_without_partitions_rejoins_only_when_nobody_consumes(
    stack, transactional_db, settings
):
    topic = f"LIVENESS_{uuid.uuid4().hex[:8]}"
    group = f"liveness-{uuid.uuid4().hex[:8]}"
    settings.KAFKA_TOPIC_PARTITIONS = 1  # one holder, one idle member, on any broker
    kafka.ensure_topics([topic])
    first = kafka.consumer(group)
    second = kafka.consumer(group)
    producer = KafkaProducer(bootstrap_servers=stack.bootstrap, acks="all")
    try:
        first.subscribe([topic])
        second.subscribe([topic])

        # given two members of a group, one of them holding the only partition
        # (each polls in its own thread: a join blocks until every member rejoins,
        # so members polled in turn from one thread can keep the group from settling)
        def settled() -> bool:
            return bool(first.assignment()) != bool(second.assignment())

        def poll_until_settled(consumer) -> None:
            deadline = time.monotonic() + 60
            while not settled() and time.monotonic() < deadline:
                consumer.poll(timeout_ms=200)

        pollers = [threading.Thread(target=poll_until_settled, args=(c,)) for c in (first, second)]
        for poller in pollers:
            poller.start()
        for poller in pollers:
            poller.join()
        assert settled(), "the group did not settle"
        holder, idle = (first, second) if first.assignment() else (second, first)
        watch = liveness.AssignmentWatch(
            "test", group, [topic], session_timeout_s=6,
            check_every=1, margin=1,
        )  # fmt: skip

        def step(*, holder_consumes: bool) -> bool:
            producer.send(topic, b"x").get(timeout=20)
            if holder_consumes and holder.poll(timeout_ms=200):
                holder.commit()
            idle.poll(timeout_ms=200)
            return watch.rejoin_needed(idle)

        # when the holder consumes and commits, the idle member never rejoins
        began = time.monotonic()
        while time.monotonic() - began < 15:
            assert not step(holder_consumes=True), "rejoined while the holder consumed"
        # when the holder stops consuming (still a member), the idle one rejoins
        began = time.monotonic()
        while not step(holder_consumes=False):
            assert time.monotonic() - began < 30, "did not rejoin although nobody consumed"
        assert time.monotonic() - began > 5, "rejoined before the offset stood still long enough"
    finally:
        producer.close()
        for consumer in (first, second):
            liveness.close(consumer)
