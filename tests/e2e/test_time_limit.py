"""A handler that hangs past the task's soft time limit: the attempt is counted (the
row is not run again for the hard limit to kill), and once its attempts are spent
the row is dead and answered with its failure event (``on_dead``).

Runs on a private broker, Redis, bridge and a worker with a 2 s soft time limit.
"""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaProducer

from project.messaging import wire
from project.messaging.models import InboxMessage, OutboxMessage
from tests.echo.handlers import COMMAND_TOPIC_ECHO, EVENT_TOPIC_ECHO
from tests.echo.models import Effect
from tests.stack import wait_for_log
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e]


def test_a_hung_command_is_counted_then_dead_and_answered(
    private_stack, transactional_db, tenant_key
):
    own = private_stack
    # given tasks that get 2 s before the soft limit, and one attempt per row (the
    # bridge too: a task message carries the limits its sender gave it)
    limits = {
        "CELERY_TASK_SOFT_TIME_LIMIT": "2",
        "CELERY_TASK_TIME_LIMIT": "60",
        "INBOX_MAX_ATTEMPTS": "1",
    }
    for name in ("bridge", "worker"):
        own[name].stop()
        own[name].start(limits)
    wait_for_log(own["worker"], "ready.", timeout=60)
    wait_for_log(own["bridge"], "subscribed to", timeout=60)
    producer = KafkaProducer(bootstrap_servers=own.bootstrap, acks="all")
    try:
        # when a DOOMED command that hangs (after writing an effect) arrives
        value = {
            "transactionId": str(uuid.uuid4()),
            "type": "DOOMED",
            "body": {"id": 8601, "seq": 1, "hang": True},
        }
        producer.send(
            wire.topic_name(COMMAND_TOPIC_ECHO),
            key=wire.key_u32(8601),
            value=wire.dumps(value),
            headers=tenant_key.kafka_headers(),
        ).get(timeout=20)

        # then the soft limit ends the attempt, the row is dead, and its DIED answer is written
        row = wait_until(
            lambda: InboxMessage.objects.filter(
                tenant__uuid=tenant_key.id, message_type="DOOMED", state="dead"
            ).first(),
            timeout=60,
            what="the hung command to be dead",
        )
        assert row.attempts == 1
        assert "SoftTimeLimitExceeded" in row.error
        assert row.failure_announced_at is not None
        (answer,) = OutboxMessage.objects.filter(
            tenant__uuid=tenant_key.id, topic=wire.topic_name(EVENT_TOPIC_ECHO)
        )
        assert wire.loads(bytes(answer.value)) == {
            "id": 8601,
            "seq": 1,
            "type": "DIED",
            "reason": "failed 1 times: SoftTimeLimitExceeded: the task's soft time limit"
            " was exceeded",
        }
        # and the hung attempt's effect was rolled back; the worker process was not killed
        assert not Effect.objects.filter(tenant__uuid=tenant_key.id).exists()
        assert own["worker"].alive
        assert "Hard time limit" not in own["worker"].output()
    finally:
        producer.close()
