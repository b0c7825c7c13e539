"""Flower's view: the task events on the broker carry the work, not the idle periodic runs."""

from __future__ import annotations

import base64
import json
import random
import time
import uuid

import pytest
import redis
from django.conf import settings

from project.messaging import wire
from tests.echo.handlers import COMMAND_TOPIC_ECHO, EVENT_TOPIC_ECHO
from tests.kafka_helpers import value_of

pytestmark = [pytest.mark.e2e]


def _events(message) -> list[dict]:
    envelope = json.loads(message["data"])
    body = envelope["body"]
    if envelope.get("properties", {}).get("body_encoding") == "base64":
        body = base64.b64decode(body)
    event = json.loads(body)
    return event if isinstance(event, list) else [event]


def test_periodic_tasks_send_no_task_events_while_the_work_does(stack, kafka_client, tenant_key):
    # given a listener on the events exchange (what Flower reads)
    connection = redis.Redis.from_url(stack.redis_url)
    listener = connection.pubsub(ignore_subscribe_messages=True)
    listener.psubscribe("*celeryev*")
    try:
        # when a ping is handled while beat keeps starting its periodic tasks
        pongs = kafka_client.reader(EVENT_TOPIC_ECHO)
        id_ = random.randrange(10_000_000, 4_000_000_000)
        command = {"transactionId": str(uuid.uuid4()), "type": "PING", "body": {"id": id_}}
        kafka_client.produce(
            COMMAND_TOPIC_ECHO, command, key=wire.key_u32(id_), headers=tenant_key.kafka_headers()
        )
        pongs.wait_for(lambda r: value_of(r).get("id") == id_, timeout=40)
        # listen over three worker heartbeats (2 s apart): several periods of every beat entry
        events: list[dict] = []
        heartbeats = 0
        deadline = time.monotonic() + 30
        while heartbeats < 3 and time.monotonic() < deadline:
            message = listener.get_message(timeout=0.5)
            if message is None:
                continue
            for event in _events(message):
                events.append(event)
                heartbeats += event.get("type") == "worker-heartbeat"
    finally:
        listener.close()
        connection.close()

    assert heartbeats == 3, "the worker sends events"
    named = {e["uuid"]: e.get("name") for e in events if e.get("name")}
    periodic = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    task_events = [e for e in events if str(e.get("type", "")).startswith("task-")]
    # then no task event names a periodic task, and every one belongs to a named task
    assert not [e for e in task_events if named.get(e["uuid"]) in periodic]
    assert periodic.isdisjoint(named.values())
