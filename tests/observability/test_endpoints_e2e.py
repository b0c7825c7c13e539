"""/api/readyz, /api/metrics and /api/debug/consumers through the real HTTP server,
with the real stack (broker, Redis, worker, beat, bridge, relay) writing the metrics."""

from __future__ import annotations

import json
import random
import uuid
from collections import namedtuple
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from project import embedded
from project.messaging import bridge, registry, wire
from project.messaging.models import InboxMessage
from project.observability import logs
from tests.echo.handlers import COMMAND_TOPIC_ECHO, EVENT_TOPIC_ECHO, EVENT_TOPIC_ECHO_INPUT
from tests.echo.models import Effect
from tests.kafka_helpers import value_of
from tests.observability.scraping import count, scrape, value
from tests.rest_server import RestClient, RestServer
from tests.stack import database_url
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e]

ECHO_GROUP = "Echo Service"
COMMANDS = wire.topic_name(COMMAND_TOPIC_ECHO)
EVENTS = wire.topic_name(EVENT_TOPIC_ECHO)
INPUT = wire.topic_name(EVENT_TOPIC_ECHO_INPUT)


def ping(id_: int, **flags: bool) -> dict:
    return {"transactionId": str(uuid.uuid4()), "type": "PING", "body": {"id": id_, **flags}}


def new_id() -> int:
    return random.randrange(10_000_000, 4_000_000_000)


def send_pings(kafka_client, tenant_key, ids, **flags) -> None:
    for id_ in ids:
        kafka_client.produce(
            COMMAND_TOPIC_ECHO,
            ping(id_, **flags),
            key=wire.key_u32(id_),
            headers=tenant_key.kafka_headers(),
        )


def pongs_of(ids):
    wanted = set(ids)
    return lambda record: value_of(record).get("id") in wanted


# --- readiness ----------------------------------------------------------------


def test_readyz_is_ready_when_database_redis_and_kafka_answer(stack, rest):
    response = rest.get("/api/readyz", tenant=False)

    assert response.status_code == 200
    assert response.content == b"ready"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


@pytest.fixture
def server_without_kafka_and_redis(django_db_setup, tmp_path, monkeypatch):
    """The real HTTP server, its Kafka and Redis addresses pointing where nothing listens."""
    monkeypatch.setenv("ATLAS_TEST_KAFKA_PORT", str(embedded.free_port()))
    monkeypatch.setenv("ATLAS_TEST_REDIS_PORT", str(embedded.free_port()))
    server = RestServer(database_url(), tmp_path)
    yield server
    server.close()


def test_readyz_is_not_ready_while_kafka_and_redis_do_not_answer(
    server_without_kafka_and_redis, tenant_key
):
    client = RestClient(server_without_kafka_and_redis.url, tenant_key)
    try:
        response = client.get("/api/readyz", tenant=False)
    finally:
        client.close()

    assert response.status_code == 503
    assert response.content == b"not ready"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_the_routes_need_no_tenant_headers_and_answer_get_only(stack, rest):
    for path in ("/api/readyz", "/api/metrics", "/api/debug/consumers"):
        assert rest.get(path, tenant=False).status_code == 200, path
        assert rest.post(path, tenant=False).status_code == 405, path
        slashed = rest.get(path + "/", tenant=False)  # strict slash, as upstream's router
        assert (slashed.status_code, slashed.headers["location"]) == (301, path), path


@pytest.fixture
def server_without_database(django_db_setup, tmp_path, monkeypatch):
    """The real HTTP server, its database a file it cannot open."""
    server = RestServer(f"sqlite:///{tmp_path}/missing/dir/atlas.sqlite3", tmp_path)
    yield server
    server.close()


def test_readyz_is_not_ready_while_the_database_does_not_answer(
    stack, server_without_database, tenant_key
):
    client = RestClient(server_without_database.url, tenant_key)
    try:
        response = client.get("/api/readyz", tenant=False)
    finally:
        client.close()

    assert (response.status_code, response.content) == (503, b"not ready")


# --- metrics --------------------------------------------------------------------


def test_metrics_count_what_the_bridge_worker_and_relay_did(stack, kafka_client, rest, tenant_key):
    # given the counters as they are
    before = scrape(rest)
    pongs = kafka_client.reader(EVENT_TOPIC_ECHO)
    ids = [new_id() for _ in range(3)]
    broken_id = new_id()

    # when three pings, a ping whose handler fails for good, an undecodable record and an
    # event type the app ignores pass through the pipeline
    send_pings(kafka_client, tenant_key, ids)
    send_pings(kafka_client, tenant_key, [broken_id], broken=True)
    headers = tenant_key.kafka_headers()
    bad_key = wire.key_u32(new_id())
    kafka_client.produce(COMMAND_TOPIC_ECHO, b"{not json", key=bad_key, headers=headers)
    kafka_client.produce(
        EVENT_TOPIC_ECHO_INPUT,
        {"characterId": 1, "type": "IGNORED"},
        key=wire.key_u32(1),
        headers=tenant_key.kafka_headers(),
    )
    pongs.wait_for(pongs_of(ids), count=3)

    # then the scrape counts each of them, per app and topic
    def delta(name: str, **labels: str) -> float:
        return count(after, name, **labels) - count(before, name, **labels)

    def settled():
        nonlocal after
        after = scrape(rest)
        return (
            delta("atlas_records_handled_total", app="echo", topic=COMMANDS) >= 3
            and delta("atlas_records_dead_total", app="echo", topic=COMMANDS, stage="worker") >= 1
            and delta("atlas_relay_published_total", topic=EVENTS) >= 3
            # another topic: over several partitions it may come after the commands
            and delta("atlas_records_consumed_total", app="echo", topic=INPUT) >= 1
        )

    after = {}
    wait_until(settled, what="counters of the handled records")
    assert delta("atlas_records_consumed_total", app="echo", topic=COMMANDS) == 5
    assert delta("atlas_records_consumed_total", app="echo", topic=INPUT) == 1
    assert delta("atlas_records_skipped_total", app="echo", topic=INPUT) == 1
    assert delta("atlas_records_dead_total", app="echo", topic=COMMANDS, stage="bridge") == 1
    assert delta("atlas_records_dead_total", app="echo", topic=COMMANDS, stage="worker") == 1
    assert delta("atlas_records_handled_total", app="echo", topic=COMMANDS) == 3
    assert delta("atlas_handler_failures_total", app="echo", topic=COMMANDS) == 1
    assert delta("atlas_handler_seconds_count", app="echo", topic=COMMANDS) == 4
    assert delta("atlas_handler_seconds_sum", app="echo", topic=COMMANDS) > 0
    assert delta("atlas_relay_published_total", topic=EVENTS) == 3
    assert delta("atlas_relay_publish_seconds_count") >= 1
    # and the scrape-time gauges answered
    assert value(after, "atlas_state_database_up") == 1
    assert value(after, "atlas_state_kafka_up") == 1
    assert value(after, "atlas_outbox_backlog") is not None
    assert value(after, "atlas_outbox_oldest_unsent_age_seconds") is not None
    assert value(after, "atlas_outbox_parked") is not None
    # the two dead letters of this test are among those waiting for an operator
    dead_now = value(after, "atlas_inbox_dead", app="echo", topic=COMMANDS)
    assert dead_now - (value(before, "atlas_inbox_dead", app="echo", topic=COMMANDS) or 0) == 2


def test_backlogs_and_the_oldest_unsent_age_are_read_from_the_database(
    stack, kafka_client, rest, tenant_key
):
    # given a stopped worker and a stopped relay
    stack["worker"].stop()
    stack["relay"].stop()
    try:
        ids = [new_id() for _ in range(2)]
        # when two pings are stored by the bridge
        send_pings(kafka_client, tenant_key, ids)

        # then they are the echo app's inbox backlog
        wait_until(
            lambda: value(scrape(rest), "atlas_inbox_backlog", app="echo", topic=COMMANDS) == 2,
            what="inbox backlog of 2",
        )
        # when the worker handles them while the relay is away
        stack["worker"].start()
        wait_until(
            lambda: Effect.objects.filter(tenant__uuid=tenant_key.id).count() == 2,
            timeout=40,
            what="both pings handled",
        )
        # then the inbox backlog is gone and the outbox holds their pongs, ageing
        samples = wait_until(
            lambda: (
                (s := scrape(rest))
                and value(s, "atlas_inbox_backlog", app="echo", topic=COMMANDS) is None
                and s
            ),
            what="no echo inbox backlog",
        )
        assert value(samples, "atlas_outbox_backlog") >= 2
        assert value(samples, "atlas_outbox_oldest_unsent_age_seconds") > 0
    finally:
        if not stack["worker"].alive:
            stack["worker"].start()
        stack["relay"].start()
    # when the relay is back, the outbox drains
    wait_until(
        lambda: value(scrape(rest), "atlas_outbox_backlog") == 0,
        timeout=40,
        what="outbox backlog drained",
    )
    assert value(scrape(rest), "atlas_outbox_oldest_unsent_age_seconds") == 0


def _lag(samples) -> float | None:
    """The echo group's lag on the command topic, summed over its partitions."""
    lags = [
        value(samples, "atlas_consumer_lag", group=ECHO_GROUP, topic=COMMANDS, partition=str(p))
        for p in range(settings.KAFKA_TOPIC_PARTITIONS)
    ]
    return None if None in lags else sum(lags)


def _echo_group(rest) -> dict:
    response = rest.get("/api/debug/consumers", tenant=False)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert document["kafka"] == "ok"
    return next(g for g in document["groups"] if g["group"] == ECHO_GROUP)


def _commands_partitions(group: dict) -> list[dict]:
    return [p for p in group["partitions"] if p["topic"] == COMMANDS]


def _commands_partition(group: dict) -> dict:
    return next(p for p in group["partitions"] if p["topic"] == COMMANDS and p["partition"] == 0)


def _held_at_end(rest) -> bool:
    group = _echo_group(rest)
    held = [
        p
        for bridge_ in group["bridges"]
        for p in bridge_["partitions"]
        if (p["topic"], p["partition"]) == (COMMANDS, 0)
    ]
    return len(held) == 1 and held[0]["highwater"] == _commands_partition(group)["end"]


def test_consumer_lag_and_diagnostics_follow_the_group_offsets(
    stack, kafka_client, rest, tenant_key
):
    # given a group that consumed everything so far
    pongs = kafka_client.reader(EVENT_TOPIC_ECHO)
    first = new_id()
    send_pings(kafka_client, tenant_key, [first])
    pongs.wait_for(pongs_of([first]))
    wait_until(lambda: _lag(scrape(rest)) == 0, what="no lag")
    group = _echo_group(rest)
    assert group["apps"] == ["echo"]
    assert COMMANDS in group["topics"] and INPUT in group["topics"]
    assert _commands_partition(group)["assignedTo"] is not None
    # and exactly one bridge reports holding the partition, its fetches at the log's end
    wait_until(lambda: _held_at_end(rest), what="one bridge holding the partition at its end")

    # when the bridge is stopped and three records arrive
    stack["bridge"].stop()
    try:
        send_pings(kafka_client, tenant_key, [new_id() for _ in range(3)])

        # then the group lags by three, in the metrics and in the diagnostics
        wait_until(lambda: _lag(scrape(rest)) == 3, what="lag of 3")
        partitions = _commands_partitions(_echo_group(rest))
        assert sum(p["lag"] for p in partitions) == 3
        assert sum(p["end"] - p["committed"] for p in partitions) == 3
    finally:
        stack["bridge"].start()

    # when the bridge is back, it catches up and reports its partitions again
    wait_until(lambda: _lag(scrape(rest)) == 0, timeout=60, what="lag back to 0")
    wait_until(
        lambda: _commands_partition(_echo_group(rest))["assignedTo"] is not None,
        what="the restarted bridge reporting its assignment",
    )


# --- logs -----------------------------------------------------------------------


def test_each_handled_record_is_logged_once_with_its_outcome(stack, kafka_client, tenant_key):
    pongs = kafka_client.reader(EVENT_TOPIC_ECHO)
    done_id, dead_id = new_id(), new_id()

    send_pings(kafka_client, tenant_key, [done_id])
    send_pings(kafka_client, tenant_key, [dead_id], broken=True)
    pongs.wait_for(pongs_of([done_id]))

    def line_of(id_: int) -> list[str]:
        key = wire.key_u32(id_).hex()
        return [line for line in stack["worker"].output().splitlines() if f"key={key}" in line]

    (done,) = wait_until(lambda: line_of(done_id), what="the handled line")
    (dead,) = wait_until(lambda: line_of(dead_id), what="the dead line")
    key = wire.key_u32(done_id).hex()
    assert f"handled echo PING key={key} tenant={tenant_key}: done in" in done
    assert f"tenant={tenant_key}: dead in" in dead
    assert " INFO project.handled: " in done


Record = namedtuple("Record", "topic partition offset key value headers")


def test_idle_sweeps_do_not_log_and_a_sweep_that_did_something_does(
    stack, transactional_db, tenant_key
):
    # given a pending inbox row whose task was lost long ago (only the sweeper can find it)
    id_ = new_id()
    record = Record(
        COMMANDS,
        0,
        10**12 + id_,  # an offset no real record has
        wire.key_u32(id_),
        json.dumps(ping(id_)).encode(),
        tenant_key.kafka_headers(),
    )
    row = bridge.build_row(registry.consumers()["echo"], record)
    row.enqueued_at = timezone.now() - timedelta(hours=1)
    row.save()

    # when the sweeper re-enqueues it, it is handled
    wait_until(
        lambda: InboxMessage.objects.get(id=row.id).state == InboxMessage.State.DONE,
        what="the swept row handled",
    )

    # then the sweep that did something is logged, with what it did
    worker_lines = stack["worker"].output().splitlines()
    sweeps = [line for line in worker_lines if "project.messaging.tasks.sweep_inbox_task[" in line]
    assert any("succeeded in" in line and line.rstrip().endswith(": 1") for line in sweeps)
    # and the idle runs of every periodic task (several a second) left no line at all
    periodic = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    for line in worker_lines:
        if not any(f"{task}[" in line for task in periodic):
            continue
        assert " received" not in line and "Discarding revoked" not in line, line
        if "succeeded in" in line:
            assert not logs.idle_result(line.split("s: ", 1)[1].rstrip()), line
    assert "Sending due task" not in stack["beat"].output()


def test_a_worker_started_with_log_format_json_writes_json_lines(stack, kafka_client, tenant_key):
    worker = stack["worker"]
    worker.stop()
    # only what the restarted worker writes (the kept output is capped at 5,000 lines,
    # so an index into it stops moving once it is full)
    worker.lines.clear()
    seen = 0
    try:
        worker.start({"LOG_FORMAT": "json"})
        pongs = kafka_client.reader(EVENT_TOPIC_ECHO)
        id_ = new_id()
        send_pings(kafka_client, tenant_key, [id_])
        pongs.wait_for(pongs_of([id_]), timeout=40)
        key = wire.key_u32(id_).hex()

        def handled_entry():
            for line in worker.output().splitlines()[seen:]:
                if f"key={key}" in line:
                    return json.loads(line)
            return None

        entry = wait_until(handled_entry, what="the handled line")
        lines = worker.output().splitlines()[seen:]
    finally:
        worker.stop()
        worker.start()

    assert entry["logger"] == "project.handled" and entry["level"] == "INFO"
    assert entry["app"] == "echo" and entry["type"] == "PING" and entry["key"] == key
    assert entry["tenant"] == str(tenant_key) and entry["outcome"] == "done"
    assert entry["duration_ms"] > 0 and entry["time"]
    # Celery's own lines too: every line that is not its start-up banner is one JSON object
    logged = [json.loads(line) for line in lines if line.startswith("{")]
    assert any(e["logger"] == "celery.apps.worker" and "ready" in e["message"] for e in logged)
    assert not [line for line in lines if " INFO " in line and not line.startswith("{")]
