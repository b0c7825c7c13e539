"""A Redis outage does not stop the bridge: records are stored, the consumer goes on
(no rebuild), and the rows are handled once Redis is back (the sweeper re-enqueues).

Runs on a private broker, Redis, bridge and worker, so the session's Redis stays up.
"""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaProducer

from project.messaging import wire
from project.messaging.models import InboxMessage
from tests.echo.handlers import COMMAND_TOPIC_ECHO
from tests.echo.models import Effect
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e]

TOPIC = wire.topic_name(COMMAND_TOPIC_ECHO)


def test_the_bridge_stores_records_through_a_redis_outage(
    private_stack, transactional_db, tenant_key
):
    own = private_stack
    producer = KafkaProducer(bootstrap_servers=own.bootstrap, acks="all")

    def send(id_: int) -> None:
        body = {"transactionId": str(uuid.uuid4()), "type": "PING", "body": {"id": id_}}
        producer.send(
            TOPIC, key=wire.key_u32(id_), value=wire.dumps(body), headers=tenant_key.kafka_headers()
        ).get(timeout=20)

    def handled(id_: int) -> bool:
        return Effect.objects.filter(tenant__uuid=tenant_key.id, key_id=id_).exists()

    try:
        # given a working pipeline
        send(8401)
        wait_until(lambda: handled(8401), timeout=60, what="the first ping handled")

        # when Redis goes away and more commands arrive
        own.stop_redis()
        for id_ in (8402, 8403):
            send(id_)

        # then the bridge still stores them, says why it cannot enqueue, keeps its consumer
        wait_until(
            lambda: (
                InboxMessage.objects.filter(tenant__uuid=tenant_key.id, state="pending").count()
                == 2
            ),
            timeout=60,
            what="two rows stored while Redis is away",
        )
        wait_until(
            lambda: "cannot enqueue tasks" in own["bridge"].output(),
            timeout=30,
            what="the bridge saying it cannot enqueue",
        )
        assert own["bridge"].output().count("subscribed to ['COMMAND_TOPIC_ECHO'") == 1
        assert "consumer loop failed" not in own["bridge"].output()

        # when Redis is back, the rows are handled (swept and re-enqueued)
        own.start_redis()
        wait_until(lambda: handled(8402) and handled(8403), timeout=90, what="both handled after")
        assert Effect.objects.filter(tenant__uuid=tenant_key.id).count() == 3
        assert own["bridge"].alive
    finally:
        producer.close()
