"""A prefork worker rides out repeated Redis outages, and every command has its effect once.

Before ``project.redis_transport``, a connection loss noticed while tasks were
unacknowledged ended the worker ("Unrecoverable error: AttributeError: 'NoneType'
object has no attribute 'hostname'"); under this load it happened within the first
two to five outages. Runs on a private broker, Redis, bridge, worker and beat (the
inbox sweeper re-enqueues the rows whose tasks Redis lost).
"""

from __future__ import annotations

import random
import threading
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
OUTAGES = 10
KEYS = 20


def test_the_worker_survives_repeated_redis_outages_and_effects_happen_once(
    private_stack, transactional_db, tenant_key
):
    own = private_stack
    own["beat"].start()
    worker_pid = own["worker"].popen.pid
    rng = random.Random(7)
    producer = KafkaProducer(bootstrap_servers=own.bootstrap, acks="all", linger_ms=5)
    sent = 0
    sending = threading.Event()
    stop = threading.Event()

    def send(seq: int) -> None:
        body = {
            "transactionId": str(uuid.uuid4()),
            "type": "PING",
            "body": {"id": 1 + seq % KEYS, "seq": seq},
        }
        producer.send(
            TOPIC,
            key=wire.key_u32(1 + seq % KEYS),
            value=wire.dumps(body),
            headers=tenant_key.kafka_headers(),
        )

    def load() -> None:  # about 100 commands a second, before, during and after outages
        nonlocal sent
        while not stop.is_set():
            send(sent)
            sent += 1
            sending.set()
            stop.wait(0.01)

    def effects() -> int:
        return Effect.objects.filter(tenant__uuid=tenant_key.id).count()

    loader = threading.Thread(target=load, daemon=True)
    try:
        # given a worker handling a steady load
        loader.start()
        sending.wait(10)
        wait_until(lambda: effects() > 20, timeout=60, what="the first pings handled")

        # when Redis goes away for one to three seconds, again and again, each time
        # after the worker got back to work
        for outage in range(OUTAGES):
            before = effects()
            wait_until(
                lambda before=before: effects() > before + 20,
                timeout=60,
                what=f"the worker handling pings again before outage {outage + 1}",
            )
            own.stop_redis()
            stop.wait(rng.uniform(1, 3))
            own.start_redis()
            assert own["worker"].alive, (
                f"the worker died in outage {outage + 1}:\n{own['worker'].output()[-4000:]}"
            )

        # and commands go on arriving after the last one
        before = effects()
        wait_until(lambda: effects() > before + 20, timeout=60, what="pings after the outages")
        stop.set()
        loader.join(10)
        producer.flush(20)

        # then the same worker process is alive and every command had its effect once
        wait_until(
            lambda: (
                Effect.objects.filter(tenant__uuid=tenant_key.id).values("seq").distinct().count()
                == sent
            ),
            timeout=120,
            what=f"all {sent} pings handled",
        )
        wait_until(
            lambda: (
                not InboxMessage.objects.filter(
                    tenant__uuid=tenant_key.id, state="pending"
                ).exists()
            ),
            timeout=60,
            what="no row left pending",
        )
        assert own["worker"].alive and own["worker"].popen.pid == worker_pid
        assert "Unrecoverable error" not in own["worker"].output()
        seqs = list(Effect.objects.filter(tenant__uuid=tenant_key.id).values_list("seq", flat=True))
        assert sorted(seqs) == list(range(sent)), "an effect missing or applied twice"
        assert not InboxMessage.objects.filter(tenant__uuid=tenant_key.id, state="dead").exists()
    finally:
        stop.set()
        producer.close()
