"""One service at a time: with ``ATLAS_SERVICES=notes`` the whole stack is notes only.

An operator moves over one service at a time while upstream's Go services keep
running beside ours, so everything of the other four must stay away: their topics
are not consumed (their groups never join), their schedules do not run, their REST
paths are not served, and nothing of theirs is published. The stack here has a
broker, Redis and database of its own, so what it did can be read in full.
"""

from __future__ import annotations

import shelve
import sqlite3
import uuid
from contextlib import closing
from urllib.parse import unquote, urlparse

import httpx
import psycopg
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from project.messaging import wire
from project.messaging.models import InboxMessage, OutboxMessage
from tests.kafka_helpers import KafkaClient, value_of
from tests.rest_server import RestClient, RestServer
from tests.stack import Stack, serve_topics, stack_of_its_own, wait_for_log
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e]

OTHER_EVENT_TOPICS = [
    "EVENT_TOPIC_INVITE_STATUS",
    "EVENT_TOPIC_PARTY_STATUS",
    "EVENT_TOPIC_PARTY_MEMBER_STATUS",
    "EVENT_TOPIC_MESSENGER_STATUS",
    "EVENT_TOPIC_MESSENGER_MEMBER_STATUS",
    "EVENT_TOPIC_TRANSPORT_STATUS",
    "EVENT_TOPIC_INSTANCE_TRANSPORT",
]


def query(database_url: str, sql: str) -> list[tuple]:
    """Rows of the stack's own database (not the test database Django is connected to)."""
    url = urlparse(database_url)
    if url.scheme == "sqlite":
        path = url.path[1:] if url.path.startswith("//") else url.path
        with closing(sqlite3.connect(path)) as db:
            return db.execute(sql).fetchall()
    with psycopg.connect(database_url) as db:
        return db.execute(sql).fetchall()


def commands(character_id: int) -> dict[str, dict]:
    """A command for each of the five services (the four others' must stay unread)."""
    tx = str(uuid.uuid4())
    return {
        "COMMAND_TOPIC_INVITE": {
            "transactionId": tx, "worldId": 0, "inviteType": "BUDDY", "type": "CREATE",
            "body": {"originatorId": character_id, "targetId": 2, "referenceId": 2},
        },
        "COMMAND_TOPIC_PARTY": {
            "transactionId": tx, "actorId": character_id, "type": "CREATE", "body": {},
        },
        "COMMAND_TOPIC_MESSENGER": {
            "transactionId": tx, "actorId": character_id, "type": "CREATE", "body": {},
        },
        "COMMAND_TOPIC_INSTANCE_TRANSPORT": {
            "transactionId": tx, "worldId": 0, "characterId": character_id, "type": "START",
            "body": {"routeId": str(uuid.uuid4()), "channelId": 1},
        },
        "COMMAND_TOPIC_NOTE": {
            "transactionId": tx, "worldId": 0, "channelId": 0, "characterId": character_id,
            "type": "CREATE", "body": {"senderId": 3, "message": "only notes", "flag": 0},
        },
    }  # fmt: skip


def end_offsets(bootstrap: str, tokens: list[str]) -> dict[str, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","))
    try:
        totals = {}
        for token in tokens:
            topic = wire.topic_name(token)
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
            totals[token] = sum(consumer.end_offsets(parts).values())
        return totals
    finally:
        consumer.close()


@pytest.fixture
def notes_only(stack, fresh_database, tmp_path, settings):
    """Broker, Redis, database, bridge, worker, beat and relay of the test's own, with
    ``ATLAS_SERVICES=notes`` and upstream's KAFKA_CONSUMER_GROUP for that one service."""
    group = f"Notes Service [swap-{uuid.uuid4().hex[:6]}]"
    own = stack_of_its_own(
        tmp_path,
        database=fresh_database,
        settings_module="project.settings",
        extra_env={
            "ATLAS_SERVICES": "notes",
            "KAFKA_CONSUMER_GROUP": group,
            "ATLAS_EXTRA_APPS": "",
        },
    )
    try:
        serve_topics(own, settings)  # every service's topics
        for name in ("worker", "beat", "bridge", "relay"):
            own[name].start()
        wait_for_log(own["bridge"], "subscribed to", timeout=60)
        wait_for_log(own["relay"], "relay is the leader", timeout=60)
        yield own, group
    finally:
        own.close()


def test_a_stack_running_only_notes_consumes_schedules_serves_and_publishes_nothing_else(
    notes_only, fresh_database, tenant_key, tmp_path
):
    own, group = notes_only
    client = KafkaClient(own.bootstrap)
    created = client.reader("EVENT_TOPIC_NOTE_STATUS")
    (tmp_path / "web").mkdir()
    web = RestServer(fresh_database, tmp_path / "web", env=own.env)  # the same settings
    rest = RestClient(web.url, tenant_key)
    try:
        # when a command for each of the five services arrives (the note's last)
        for token, value in commands(4201).items():
            client.produce(token, value, key=wire.key_u32(4201), headers=tenant_key.kafka_headers())
        # then the note is created and its event published, under the notes group
        [event] = created.wait_for(lambda r: value_of(r)["type"] == "CREATED", timeout=60)
        assert value_of(event)["characterId"] == 4201
        admin = KafkaAdminClient(bootstrap_servers=own.bootstrap.split(","))
        try:
            # (Tansu lists a group's id percent-encoded, as it names it in its storage)
            groups = {unquote(g["group_id"]) for g in admin.list_groups()}
        finally:
            admin.close()
        assert group in groups
        # and no other service's group joined: their commands were never read
        assert groups <= {group, "Atlas Local Directory"}, groups
        inbox = query(fresh_database, f"SELECT DISTINCT app FROM {InboxMessage._meta.db_table}")
        assert {app for (app,) in inbox} <= {"notes", "directory"}
        # and nothing but notes' events was written or published
        outbox = query(fresh_database, f"SELECT DISTINCT topic FROM {OutboxMessage._meta.db_table}")
        assert {topic for (topic,) in outbox} == {wire.topic_name("EVENT_TOPIC_NOTE_STATUS")}
        assert end_offsets(own.bootstrap, OTHER_EVENT_TOPICS) == dict.fromkeys(
            OTHER_EVENT_TOPICS, 0
        )

        # and the REST API serves notes, and answers the other services' paths 404
        assert rest.get("/api/characters/4201/notes").status_code == 200
        for path in ("/api/characters/4201/invites", "/api/parties", "/api/messengers/1",
                     "/api/transports/routes"):  # fmt: skip
            assert rest.get(path).status_code == 404, path
        # and the diagnostics and the metrics know only the groups that run here
        consumers = httpx.get(f"{web.url}/api/debug/consumers", timeout=15).json()
        assert {c["group"] for c in consumers["groups"]} <= {group, "Atlas Local Directory"}
        metrics = httpx.get(f"{web.url}/api/metrics", timeout=15).text
        assert "Party Service" not in metrics and "Transport Service" not in metrics
        assert f'group="{group}"' in metrics

        # and beat ran the platform's schedules but not the invite expiry nor the
        # transport tick (read from beat's own schedule file once it stopped)
        wait_until(lambda: "Sending due task" in own["beat"].output() or beat_ran(own),
                   timeout=30, what="beat to run a task")  # fmt: skip
        own["beat"].stop()
        with shelve.open(str(own.dir / "beat-schedule"), flag="r") as schedule:
            entries = set(schedule["entries"])
        assert {"inbox-sweep", "outbox-sweep"} <= entries
        assert not entries & {"invites-expire", "transport-tick"}
    finally:
        rest.close()
        web.close()
        client.close()


def beat_ran(own: Stack) -> bool:
    """The inbox sweeper ran at least once (its run leaves a worker log line)."""
    return "sweep_inbox_task" in own["worker"].output()
