"""The whole path through real parts: Kafka → bridge → inbox → Celery worker → outbox → relay.

Uses the test-only echo subscription (tests/echo): PING on COMMAND_TOPIC_ECHO
writes an Effect row and emits PONG on EVENT_TOPIC_ECHO keyed by the ping id.
"""

from __future__ import annotations

import json
import signal
import struct
import uuid

import pytest
from django.conf import settings

from project.messaging import inbox, kafka, registry, wire
from project.messaging.models import InboxMessage, OutboxMessage
from tests.echo.handlers import COMMAND_TOPIC_ECHO, EVENT_TOPIC_ECHO, EVENT_TOPIC_ECHO_INPUT
from tests.echo.models import Effect
from tests.kafka_helpers import headers_of, value_of
from tests.stack import wait_for_log
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e]


def ping(id_: int, seq: int = 0, **flags: bool) -> dict:
    return {
        "transactionId": str(uuid.uuid4()),
        "type": "PING",
        "body": {"id": id_, "seq": seq, **flags},
    }


def pong_for(id_: int, seq: int | None = None):
    def matches(record) -> bool:
        value = value_of(record)
        return value["id"] == id_ and (seq is None or value["seq"] == seq)

    return matches


def test_ping_is_handled_and_pong_published_with_key_and_headers(kafka_client, tenant_key):
    # given a reader on the output topic and a command with tenant, environment and trace
    pongs = kafka_client.reader(EVENT_TOPIC_ECHO)
    trace_id = uuid.uuid4().hex
    headers = [
        ("traceparent", f"00-{trace_id}-00f067aa0ba902b7-01".encode()),
        *tenant_key.kafka_headers(),
        ("ENVIRONMENT", b"main"),
    ]
    command = ping(4242, 1)

    # when the command is produced
    kafka_client.produce(COMMAND_TOPIC_ECHO, command, key=wire.key_u32(4242), headers=headers)

    # then one PONG leaves with the upstream key bytes and copied headers
    (record,) = pongs.wait_for(pong_for(4242))
    assert record.key == bytes.fromhex("9210000000000000")
    assert record.value == (
        b'{"transactionId":"'
        + command["transactionId"].encode()
        + b'","id":4242,"seq":1,"type":"PONG","body":{}}'
    )
    got = headers_of(record)
    assert got["TENANT_ID"] == str(tenant_key.id).encode()
    assert got["REGION"] == b"GMS"
    assert got["MAJOR_VERSION"] == b"\x00\x53"
    assert got["MINOR_VERSION"] == b"\x00\x01"
    assert got["ENVIRONMENT"] == b"main"
    parent = wire.TraceParent.parse(got["traceparent"])
    assert parent.trace_id == trace_id and parent.span_id != "00f067aa0ba902b7"
    # and the effect happened exactly once, the inbox row is done, the outbox row sent
    assert Effect.objects.filter(key_id=4242, tenant__uuid=tenant_key.id).count() == 1
    row = InboxMessage.objects.get(tenant__uuid=tenant_key.id)
    assert row.state == InboxMessage.State.DONE
    wait_until(
        lambda: OutboxMessage.objects.filter(tenant__uuid=tenant_key.id).exclude(sent_at=None),
        what="outbox row marked sent",
    )


BAD_INPUTS = [
    ("malformed JSON", b'{"type":"PING",', None, "invalid JSON"),
    ("not an object", b"[1,2]", None, "must be an object"),
    ("NaN", b'{"type":"PING","body":{"id":NaN}}', None, "NaN"),
    ("string id", {"type": "PING", "body": {"id": "7"}}, None, "body.id"),
    ("float id", b'{"type":"PING","body":{"id":7.0}}', None, "body.id"),
    ("bool id", {"type": "PING", "body": {"id": True}}, None, "body.id"),
    ("negative id", {"type": "PING", "body": {"id": -1}}, None, "out of range"),
    ("empty transactionId", {"transactionId": "", "type": "PING"}, None, "transactionId"),
    ("body not object", {"type": "PING", "body": "x"}, None, "body"),
    ("type not string", {"type": 5}, None, "'type' must be a JSON string"),
    ("unknown command type", {"type": "PONG"}, None, "unknown command type 'PONG'"),
    ("missing tenant headers", ping(1), [], "missing TENANT_ID"),
    (
        "ASCII version header",
        ping(1),
        "ascii-version",
        "MAJOR_VERSION header must be 2 big-endian bytes",
    ),
]


def test_bad_input_becomes_dead_letters_and_the_partition_goes_on(
    kafka_client, tenant_key, tenant_headers
):
    pongs = kafka_client.reader(EVENT_TOPIC_ECHO)
    # given a run of bad records on the command topic's only partition
    for _name, value, headers, _reason in BAD_INPUTS:
        if headers == "ascii-version":
            headers = [(k, b"083" if k == "MAJOR_VERSION" else v) for k, v in tenant_headers]
        kafka_client.produce(
            COMMAND_TOPIC_ECHO, value, headers=tenant_headers if headers is None else headers
        )
    # when a good record follows them
    kafka_client.produce(COMMAND_TOPIC_ECHO, ping(777, 3), headers=tenant_headers)

    # then the good one is handled
    pongs.wait_for(pong_for(777, 3))
    # and every bad one is a dead letter with a precise reason, in order
    dead = list(
        InboxMessage.objects.filter(state=InboxMessage.State.DEAD, topic=COMMAND_TOPIC_ECHO)
        .order_by("offset")
        .values_list("error", flat=True)
    )[-len(BAD_INPUTS) :]
    assert len(dead) == len(BAD_INPUTS)
    for (name, _value, _headers, reason), error in zip(BAD_INPUTS, dead, strict=True):
        assert reason in error, f"{name}: {error!r}"
    # and nothing but the good one had an effect
    assert list(Effect.objects.values_list("key_id", flat=True)) == [777]


def test_event_types_the_app_does_not_act_on_are_skipped(kafka_client, tenant_headers):
    # given an event topic where echo acts only on SEEN
    for type_ in ("LOGIN", "SEEN", "MAP_CHANGED"):
        kafka_client.produce(
            EVENT_TOPIC_ECHO_INPUT,
            {"characterId": 55, "type": type_, "body": {"whatever": [1]}},
            headers=tenant_headers,
        )
    # then only SEEN is stored and handled; the others leave no row at all
    wait_until(lambda: Effect.objects.filter(key_id=55).exists(), what="SEEN handled")
    rows = InboxMessage.objects.filter(topic=EVENT_TOPIC_ECHO_INPUT)
    assert list(rows.values_list("message_type", "state")) == [("SEEN", "done")]


def test_failing_handler_dies_after_max_attempts_and_replay_succeeds(
    kafka_client, stack, tenant_headers
):
    pongs = kafka_client.reader(EVENT_TOPIC_ECHO)
    # given a handler that raises every time
    kafka_client.produce(COMMAND_TOPIC_ECHO, ping(901, 9001, fail=True), headers=tenant_headers)
    # then after INBOX_MAX_ATTEMPTS the row is dead with the traceback kept
    row = wait_until(
        lambda: InboxMessage.objects.filter(state="dead", message_type="PING").first(),
        what="row dead after retries",
    )
    assert row.attempts == 5
    assert "failed 5 times" in row.error and "echo told to fail (seq 9001)" in row.error
    assert not Effect.objects.exists()

    # when the cause is fixed and the dead letter replayed
    (stack.marker_dir / "allow-9001").write_text("ok")
    from django.db import transaction

    with transaction.atomic():
        assert inbox.replay(InboxMessage.objects.filter(id=row.id)) == 1

    # then it is handled once and its event published
    pongs.wait_for(pong_for(901, 9001))
    assert Effect.objects.filter(key_id=901).count() == 1


def test_worker_killed_mid_task_gives_exactly_one_effect(kafka_client, stack, tenant_headers):
    pongs = kafka_client.reader(EVENT_TOPIC_ECHO)
    # given a handler that is inside its transaction (effect written, not committed)
    kafka_client.produce(COMMAND_TOPIC_ECHO, ping(31337, 1, hang=True), headers=tenant_headers)
    wait_until(lambda: list(stack.marker_dir.glob("hang-*")), what="handler hanging")
    # when the worker is killed outright and a new one started
    stack["worker"].kill()
    stack["worker"].start()
    # then the message is handled again, with exactly one effect and one publication
    pongs.wait_for(pong_for(31337), timeout=60)
    assert Effect.objects.filter(key_id=31337).count() == 1
    assert InboxMessage.objects.get(message_type="PING").state == "done"


def test_relay_killed_between_publish_and_mark_publishes_again(kafka_client, stack, tenant_headers):
    pongs = kafka_client.reader(EVENT_TOPIC_ECHO)
    relay = stack["relay"]
    # given a relay that dies after the broker acknowledged, before marking rows sent
    relay.stop()
    relay.start({"OUTBOX_RELAY_FAULT": "crash-after-publish"})
    wait_for_log(relay, "relay is the leader")
    kafka_client.produce(COMMAND_TOPIC_ECHO, ping(5150, 1), headers=tenant_headers)
    pongs.wait_for(pong_for(5150))
    wait_until(lambda: not relay.alive, what="relay crashed")
    assert relay.popen.returncode == 3
    row = OutboxMessage.objects.get(message_type="PONG", tenant__isnull=False)
    assert row.sent_at is None
    # when a normal relay starts
    relay.start()
    # then the record is published again and marked sent; the effect stayed single
    pongs.wait_for(pong_for(5150), count=2)
    wait_until(lambda: OutboxMessage.objects.filter(id=row.id).exclude(sent_at=None).exists())
    assert Effect.objects.filter(key_id=5150).count() == 1


def test_a_second_relay_stands_by_and_takes_over(kafka_client, stack, tenant_headers):
    from tests.stack import Process

    pongs = kafka_client.reader(EVENT_TOPIC_ECHO)
    first = stack["relay"]
    second = Process("relay-standby", first.command, first.env, stack.dir).start()
    try:
        wait_for_log(second, "standing by")
        # when the leader stops
        assert first.stop() == 0
        assert "relay stopped" in first.output()
        wait_for_log(second, "relay is the leader")
        # then the standby publishes
        kafka_client.produce(COMMAND_TOPIC_ECHO, ping(6060, 1), headers=tenant_headers)
        pongs.wait_for(pong_for(6060))
    finally:
        second.stop()
        first.start()
        wait_for_log(first, "relay is the leader")


def test_per_key_order_holds_for_1000_messages_over_20_keys(kafka_client, tenant_headers):
    pongs = kafka_client.reader(EVENT_TOPIC_ECHO)
    keys = [10_000 + k for k in range(20)]
    # given 1,000 commands, 50 per key, interleaved across keys
    for seq in range(50):
        for key in keys:
            kafka_client.producer.send(
                wire.topic_name(COMMAND_TOPIC_ECHO),
                key=wire.key_u32(key),
                value=json.dumps(ping(key, seq)).encode(),
                headers=tenant_headers,
            )
    kafka_client.producer.flush()
    # when the four worker processes have handled them all
    wait_until(lambda: Effect.objects.count() >= 1000, timeout=120, what="1000 effects")
    # then each key's effects were applied in produce order
    for key in keys:
        seqs = list(Effect.objects.filter(key_id=key).order_by("id").values_list("seq", flat=True))
        assert seqs == list(range(50)), f"key {key}: {seqs}"
    # and each key's events were published in the same order
    records = pongs.wait_for(lambda r: True, count=1000, timeout=120)
    by_key: dict[int, list[int]] = {}
    for record in records:
        value = value_of(record)
        assert record.key == struct.pack("<I", value["id"]) + b"\0" * 4
        by_key.setdefault(value["id"], []).append(value["seq"])
    assert all(seqs == list(range(50)) for seqs in by_key.values())
    assert Effect.objects.values("inbox_id").distinct().count() == 1000


def test_bridge_stops_cleanly_and_resumes_where_it_left_off(kafka_client, stack, tenant_headers):
    pongs = kafka_client.reader(EVENT_TOPIC_ECHO)
    bridge = stack["bridge"]
    # when the bridge gets SIGTERM
    assert bridge.stop() == 0
    assert "bridge stopped" in bridge.output()
    # and messages arrive while it is down
    kafka_client.produce(COMMAND_TOPIC_ECHO, ping(8080, 1), headers=tenant_headers)
    bridge.start()
    # then they are handled once after restart
    pongs.wait_for(pong_for(8080), timeout=60)
    assert Effect.objects.filter(key_id=8080).count() == 1


def test_bridge_killed_mid_stream_loses_nothing_and_applies_nothing_twice(
    kafka_client, stack, tenant_key, tenant_headers
):
    pongs = kafka_client.reader(EVENT_TOPIC_ECHO)
    bridge = stack["bridge"]
    # given a stream of 300 commands over 10 keys being consumed
    for seq in range(300):
        kafka_client.producer.send(
            wire.topic_name(COMMAND_TOPIC_ECHO),
            key=wire.key_u32(20_000 + seq % 10),
            value=json.dumps(ping(20_000 + seq % 10, seq)).encode(),
            headers=tenant_headers,
        )
    kafka_client.producer.flush()
    wait_until(lambda: Effect.objects.exists(), what="the first effects")
    # when the bridge is killed outright part-way and started again
    bridge.kill()
    bridge.start()
    # then every command has exactly one effect and one event, in order per key
    # (this test's own: a bridge that restarts from an older committed offset reads
    # earlier tests' records again, whose inbox rows the test database no longer has)
    effects = Effect.objects.filter(tenant__uuid=tenant_key.id)
    wait_until(lambda: effects.count() >= 300, timeout=90, what="300 effects")
    seqs = list(effects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(300)), _twice(seqs)
    for key in range(20_000, 20_010):
        ordered = list(effects.filter(key_id=key).order_by("id").values_list("seq", flat=True))
        assert ordered == sorted(ordered)

    # and every command's event was published (at least once: a relay publish that
    # timed out under load is sent again, so a duplicate is allowed, a gap is not)
    def seen() -> set[int]:
        return {value_of(r)["seq"] for r in pongs.poll() if 20_000 <= value_of(r)["id"] < 20_010}

    wait_until(lambda: len(seen()) >= 300, timeout=60, what="300 distinct pongs")
    assert seen() == set(range(300))


def _twice(seqs: list[int]) -> str:
    """For a failure: the inbox rows behind each effect that happened twice."""
    doubled = sorted({seq for seq in seqs if seqs.count(seq) > 1})
    lines = []
    for effect in Effect.objects.filter(seq__in=doubled).order_by("seq", "id"):
        row = InboxMessage.objects.filter(id=effect.inbox_id).first()
        where = (
            f"{row.topic}[{row.partition}] epoch {row.epoch} offset {row.offset} {row.state}"
            if row
            else "no inbox row"
        )
        lines.append(
            f"seq {effect.seq} key {effect.key_id} tenant {effect.tenant_id}: effect "
            f"{effect.id}, inbox row {effect.inbox_id}: {where}"
        )
    return "effects twice:\n" + "\n".join(lines)


def test_processes_survive_a_broker_outage(kafka_client, stack, tenant_headers):
    """Runs last in this module: the embedded broker keeps topics in memory only,
    so after the restart the bridge and relay must also re-create their topics
    (Apache Kafka comes back with them)."""
    kafka_client.close()
    # given the broker dies and comes back empty while bridge and relay keep running
    # (held still while it is away: a metadata request of theirs reaching the new
    # broker before the topics exist again lets it create them with its own default
    # partition count, and the tests of later modules read partition 0)
    kafka_processes = [stack["bridge"], stack["relay"]]
    for process in kafka_processes:
        process.signal(signal.SIGSTOP)
    try:
        stack.stop_kafka()
        stack.start_kafka()
        kafka.ensure_topics(registry.all_topics())
    finally:
        for process in kafka_processes:
            process.signal(signal.SIGCONT)
    client = type(kafka_client)(stack.bootstrap)
    try:
        # when a command is produced once the bridge re-created its topics
        wait_until(
            lambda: _topic_exists(client, COMMAND_TOPIC_ECHO),
            timeout=60,
            interval=0.5,
            what="bridge re-created its topics",
        )
        client.produce(COMMAND_TOPIC_ECHO, ping(9999, 1), headers=tenant_headers)
        # then it is handled and the relay publishes the event
        pongs = client.reader(EVENT_TOPIC_ECHO, from_beginning=True)
        pongs.wait_for(pong_for(9999), timeout=60)
        # and the topics are (back) as this project creates them, with its partition count
        partitions = set(range(settings.KAFKA_TOPIC_PARTITIONS))
        for token in (COMMAND_TOPIC_ECHO, EVENT_TOPIC_ECHO):
            assert client.producer.partitions_for(wire.topic_name(token)) == partitions
    finally:
        client.close()
    assert stack["bridge"].alive and stack["relay"].alive
    assert Effect.objects.filter(key_id=9999).count() == 1


def _topic_exists(client, token: str) -> bool:
    return bool(client.producer.partitions_for(wire.topic_name(token)))
